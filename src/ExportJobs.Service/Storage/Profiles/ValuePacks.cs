using System.Buffers;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// How a packed fragment file (<see cref="FragmentColumns.PackedKey"/>) keeps a binary column's values of a row group:
/// in packs. A pack is the value of the row it starts at, and holds the values of that row and of the rows after it up
/// to the next pack's first (those rows have no value of their own): for each row, its value's length plus one as a
/// 7-bit varint (0: the row has no value), then the value's bytes. A pack holds at least one row and is closed once it
/// holds <see cref="PackBytes"/>. Parquet.Net copies each value it decodes into an array of its own (and writes each
/// value's length through one); read as packs, a row group's values of a column are a few arrays, not one per row.
/// </summary>
internal static class ValuePacks
{
    /// <summary>The bytes after which a pack is closed: a pack stays below the large object heap unless one value alone is larger.</summary>
    public const int PackBytes = 64 * 1024;

    /// <summary>
    /// Packs <paramref name="values"/> (a row's value, or null) into <paramref name="packs"/>, a value at the row each
    /// pack starts at and null elsewhere, each a slice of <paramref name="buffer"/>, rented here from the shared pool
    /// (the caller returns it once the packs are written).
    /// </summary>
    public static void Pack(ReadOnlySpan<ReadOnlyMemory<byte>?> values, Span<ReadOnlyMemory<byte>?> packs, out byte[] buffer)
    {
        int bytes = 0;
        foreach (var value in values) bytes = checked(bytes + MaxVarintBytes + (value?.Length ?? 0));
        buffer = ArrayPool<byte>.Shared.Rent(Math.Max(bytes, 1));
        int at = 0, start = 0, first = -1;
        for (int row = 0; row < values.Length; row++)
        {
            if (first < 0 || at - start >= PackBytes)
            {
                if (first >= 0) packs[first] = buffer.AsMemory(start, at - start);
                (start, first) = (at, row);
            }
            else packs[row] = null;
            var value = values[row];
            at += WriteVarint(buffer.AsSpan(at), value is { } v ? (uint)v.Length + 1 : 0);
            if (value is { } text)
            {
                text.Span.CopyTo(buffer.AsSpan(at));
                at += text.Length;
            }
        }
        if (first >= 0) packs[first] = buffer.AsMemory(start, at - start);
    }

    /// <summary>
    /// The values of a row group's <paramref name="rows"/> rows into <paramref name="into"/> (slices of the packs), from
    /// its packs in row order and each row's definition level (1: a pack starts there).
    /// </summary>
    public static void Unpack(ReadOnlySpan<ReadOnlyMemory<byte>> packs, ReadOnlySpan<int> levels, int rows, Span<ReadOnlyMemory<byte>?> into, string column)
    {
        int pack = 0;
        ReadOnlyMemory<byte> rest = default;
        for (int row = 0; row < rows; row++)
        {
            if (levels[row] != 0)
            {
                if (!rest.IsEmpty || pack == packs.Length) throw Malformed(column);
                rest = packs[pack++];
            }
            if (rest.IsEmpty) throw Malformed(column);
            uint length = ReadVarint(ref rest, column);
            if (length == 0)
            {
                into[row] = null;
                continue;
            }
            if (length - 1 > (uint)rest.Length) throw Malformed(column);
            int size = (int)(length - 1);
            into[row] = rest[..size];
            rest = rest[size..];
        }
        if (!rest.IsEmpty || pack != packs.Length) throw Malformed(column);
    }

    private const int MaxVarintBytes = 5;

    private static int WriteVarint(Span<byte> into, uint value)
    {
        int at = 0;
        for (; value >= 0x80; value >>= 7) into[at++] = (byte)(value | 0x80);
        into[at++] = (byte)value;
        return at;
    }

    private static uint ReadVarint(ref ReadOnlyMemory<byte> rest, string column)
    {
        var span = rest.Span;
        uint value = 0;
        for (int at = 0; at < MaxVarintBytes && at < span.Length; at++)
        {
            // The fifth byte holds the last 4 bits of 32.
            if (at == MaxVarintBytes - 1 && span[at] > 0x0F) break;
            value |= (uint)(span[at] & 0x7F) << (7 * at);
            if (span[at] < 0x80)
            {
                rest = rest[(at + 1)..];
                return value;
            }
        }
        throw Malformed(column);
    }

    private static InvalidDataException Malformed(string column) => new($"Column {column} of a fragment file has a malformed pack of values.");
}
