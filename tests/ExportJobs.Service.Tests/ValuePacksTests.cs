using System.Buffers;
using System.Text;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Tests;

/// <summary>A packed fragment file keeps a row group's values of a binary column in a few packs, read back as slices of them.</summary>
public class ValuePacksTests
{
    [Fact]
    public void Values_null_empty_and_larger_than_a_pack_read_back_as_they_were_from_packs_closed_at_the_bound()
    {
        var values = new ReadOnlyMemory<byte>?[250];
        for (int row = 0; row < values.Length; row++)
            values[row] = (row % 7) switch
            {
                0 => (ReadOnlyMemory<byte>?)null,
                1 => ReadOnlyMemory<byte>.Empty,
                // A value of 200 bytes: past 128 its length takes two bytes.
                2 => Encoding.UTF8.GetBytes(new string('x', 200)),
                _ => Encoding.UTF8.GetBytes($"{{\"row\":{row},\"text\":\"{new string('é', row * 4)}\"}}"),
            };
        values[100] = Encoding.UTF8.GetBytes(new string('z', ValuePacks.PackBytes * 2));

        var (read, packStarts) = RoundTrip(values);

        Assert.Equal(values.Select(v => v?.ToArray()), read.Select(v => v?.ToArray()));
        Assert.True(read[1]!.Value.IsEmpty);
        Assert.Null(read[0]);
        // The first row starts a pack; a pack closes once it holds the bound, so the large value closes the one it is in.
        Assert.Equal(0, packStarts[0]);
        Assert.Contains(101, packStarts);
        Assert.InRange(packStarts.Count, 3, 6);
    }

    [Fact]
    public void A_row_group_of_small_values_is_one_pack_at_its_first_row()
    {
        var values = Enumerable.Range(0, 250).Select(i => (ReadOnlyMemory<byte>?)Encoding.UTF8.GetBytes($"\"v{i}\"")).ToArray();
        var (read, packStarts) = RoundTrip(values);
        Assert.Equal([0], packStarts);
        Assert.Equal(values.Select(v => v?.ToArray()), read.Select(v => v?.ToArray()));
    }

    [Fact]
    public void Packs_that_do_not_cover_their_rows_exactly_are_refused_as_malformed()
    {
        var values = Enumerable.Range(0, 4).Select(i => (ReadOnlyMemory<byte>?)new byte[] { (byte)('a' + i) }).ToArray();
        var packs = new ReadOnlyMemory<byte>?[4];
        ValuePacks.Pack(values, packs, out byte[] buffer);
        var pack = packs[0]!.Value.ToArray();
        ArrayPool<byte>.Shared.Return(buffer);
        var into = new ReadOnlyMemory<byte>?[5];

        // More rows than the pack holds, fewer, a length past its end, a pack where none is said to start.
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([pack], [1, 0, 0, 0, 0], 5, into, "m0"));
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([pack], [1, 0, 0], 3, into, "m0"));
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([new byte[] { 9, (byte)'a' }], [1], 1, into, "m0"));
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([pack], [0, 1, 0, 0], 4, into, "m0"));
        // Lengths that are not a 32-bit varint, or as long as 32 bits allow.
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }], [1], 1, into, "m0"));
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([new byte[] { 0x80, 0x80, 0x80, 0x80, 0x10, 1 }], [1], 1, into, "m0"));
        Assert.Throws<InvalidDataException>(() => ValuePacks.Unpack([new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 1 }], [1], 1, into, "m0"));
        ValuePacks.Unpack([pack], [1, 0, 0, 0], 4, into, "m0");
        Assert.Equal("abcd", string.Concat(into.Take(4).Select(v => Encoding.UTF8.GetString(v!.Value.Span))));
    }

    /// <summary>The values packed and unpacked as a file's column would be (the packs copied, as Parquet.Net copies them), and the rows packs start at.</summary>
    private static (ReadOnlyMemory<byte>?[] Read, List<int> PackStarts) RoundTrip(ReadOnlyMemory<byte>?[] values)
    {
        var packs = new ReadOnlyMemory<byte>?[values.Length];
        ValuePacks.Pack(values, packs, out byte[] buffer);
        var starts = Enumerable.Range(0, values.Length).Where(row => packs[row] is not null).ToList();
        var copied = starts.Select(row => (ReadOnlyMemory<byte>)packs[row]!.Value.ToArray()).ToArray();
        ArrayPool<byte>.Shared.Return(buffer);
        var levels = packs.Select(p => p is null ? 0 : 1).ToArray();
        var read = new ReadOnlyMemory<byte>?[values.Length];
        ValuePacks.Unpack(copied, levels, values.Length, read, "m0");
        return (read, starts);
    }
}
