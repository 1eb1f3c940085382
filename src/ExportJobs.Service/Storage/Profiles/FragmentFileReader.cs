using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using ParquetSharp;
using ParquetSharp.IO;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Reads one fragment file row group by row group with Apache Parquet C++ (ParquetSharp's low-level column readers: a
/// value is handed out in place, so a column of a group costs one array of its bytes, where Parquet.Net made an array
/// per value); of the member columns, only those of the names asked for (all when none are named). With a filter of
/// identities, the rows of other identities are left out, and a row group that holds none of its identities is not
/// decoded past its identity columns (a shard's rows are in identity order, so a namespace's are together), nor
/// fetched when its rows are all of a namespace the filter keeps none of, or when the filter names it among the groups
/// it keeps none of (<see cref="IdentityFilter"/>). Files are written by Parquet.Net (<see cref="FragmentFileWriter"/>).
/// </summary>
internal sealed class FragmentFileReader : IAsyncDisposable
{
    private readonly string _file;
    private readonly BlobRangeStream _stream;
    private readonly ManagedRandomAccessFile _input;
    private readonly ParquetFileReader _reader;
    private readonly int _namespace, _id, _ingestTime, _dataset, _batch, _record;
    private readonly int? _order, _sequence;
    /// <summary>The member columns read: their index among the file's names, and their column.</summary>
    private readonly (int Index, int Column)[] _read;
    /// <summary>For each of the file's names, where its column's values are in <see cref="_values"/> (-1: not read).</summary>
    private readonly int[] _slotOf;
    /// <summary>The columns read, in file order.</summary>
    private readonly int[] _readColumns;
    private readonly IdentityFilter? _keep;
    private readonly int _groups;
    private bool[] _kept = [];
    private int _group = -1;
    private int _rows;
    private int _row = -1;
    private string?[] _namespaces = [], _ids = [], _datasets = [], _batches = [];
    private ReadOnlyMemory<byte>?[] _records = [], _orders = [];
    private ReadOnlyMemory<byte>?[][] _values;
    private long[] _ingestTimes = [], _sequences = [];
    /// <summary>A batch of a column's values as the column reader hands them out (in its buffers), and each row's definition level.</summary>
    private ByteArray[] _bytes = [];
    private short[] _levels = [];
    private int[] _indexes = [];
    /// <summary>The values of the file's namespace, dataset and batch columns, by column (<see cref="FragmentColumns.ValuesKey"/>); null in a file of an earlier build.</summary>
    private readonly Dictionary<string, string[]>? _indexed;
    /// <summary>In a file of an earlier build, the strings of its namespaces, dataset and batch ids: made once, not once a row.</summary>
    private readonly Dictionary<string, string> _few = new(StringComparer.Ordinal);

    private FragmentFileReader(string file, BlobRangeStream stream, ManagedRandomAccessFile input, ParquetFileReader reader, MemberSelection? members, IdentityFilter? keep)
    {
        _file = file;
        _stream = stream;
        _input = input;
        _reader = reader;
        _keep = keep;
        _groups = reader.FileMetaData.NumRowGroups;
        var schema = reader.FileMetaData.Schema;
        var columns = Enumerable.Range(0, schema.NumColumns).ToDictionary(c => schema.Column(c).Name, StringComparer.Ordinal);
        int Column(string name) => columns.TryGetValue(name, out int column) ? column : throw new InvalidDataException($"A fragment file has no column {name}.");
        (_namespace, _id, _ingestTime) = (Column(FragmentColumns.Namespace), Column(FragmentColumns.Id), Column(FragmentColumns.IngestTime));
        (_dataset, _batch, _record) = (Column(FragmentColumns.Dataset), Column(FragmentColumns.Batch), Column(FragmentColumns.Record));
        _order = columns.TryGetValue(FragmentColumns.Order, out int order) ? order : null;
        _sequence = columns.TryGetValue(FragmentColumns.Sequence, out int sequence) ? sequence : null;
        var metadata = reader.FileMetaData.KeyValueMetadata;
        _indexed = metadata.TryGetValue(FragmentColumns.ValuesKey, out string? values) ? IndexedValuesOf(values) : null;
        Members = metadata.TryGetValue(FragmentColumns.MembersKey, out string? names)
            ? JsonSerializer.Deserialize<string[]>(names)!.Select(MemberName.Of).ToArray()
            : [];
        _read = Members.Select((name, i) => (i, name)).Where(m => members is null || members.Reads(m.name.Text))
            .Select(m => (m.i, Column(FragmentColumns.MemberColumn(m.i)))).ToArray();
        _slotOf = Enumerable.Repeat(-1, Members.Count).ToArray();
        for (int slot = 0; slot < _read.Length; slot++) _slotOf[_read[slot].Index] = slot;
        _values = new ReadOnlyMemory<byte>?[_read.Length][];
        _readColumns = [.. new int?[] { _namespace, _id, _ingestTime, _dataset, _batch, _record, _order, _sequence }.OfType<int>().Concat(_read.Select(r => r.Column)).Order()];
    }

    private static Dictionary<string, string[]> IndexedValuesOf(string json)
    {
        var values = JsonSerializer.Deserialize<Dictionary<string, string[]>>(json);
        if (values is null || FragmentColumns.Indexed.Any(column => !values.ContainsKey(column)))
            throw new InvalidDataException($"A fragment file's {FragmentColumns.ValuesKey} does not name the values of its columns.");
        return values;
    }

    /// <summary>The file's member names (none in a file of an earlier build).</summary>
    public IReadOnlyList<MemberName> Members { get; }

    public FragmentRow Current { get; private set; } = null!;

    /// <summary>
    /// The file (<paramref name="length"/> bytes of its blob from <paramref name="offset"/>), before its first row; it
    /// reads the member columns of <paramref name="members"/> (all when null), and the rows of the identities
    /// (namespace, id) <paramref name="keep"/> keeps (all when null).
    /// </summary>
    public static async Task<FragmentFileReader> OpenAsync(BlobClient blob, long offset, long length, MemberSelection? members, IdentityFilter? keep, CancellationToken ct)
    {
        var stream = await BlobRangeStream.OpenAsync(blob, offset, length, ct);
        ManagedRandomAccessFile? input = null;
        ParquetFileReader? reader = null;
        try
        {
            await LoadFooterAsync(stream, ct);
            input = new ManagedRandomAccessFile(stream, leaveOpen: true);
            reader = new ParquetFileReader(input);
            return new FragmentFileReader(blob.Name, stream, input, reader, members, keep);
        }
        catch (Exception e)
        {
            Dispose(reader, input);
            await stream.DisposeAsync();
            if (e is ParquetException) throw new InvalidDataException($"Blob '{blob.Name}' is not a readable fragment file: {e.Message}", e);
            throw;
        }
    }

    /// <summary>
    /// Makes the file's footer readable from memory before the (synchronous) Parquet reader reads it: a footer larger
    /// than the tail fetched on opening (a large compacted file's) is fetched here, not by a blocking read.
    /// </summary>
    private static async Task LoadFooterAsync(BlobRangeStream stream, CancellationToken ct)
    {
        const int Trailer = 8;
        if (stream.Length < Trailer) throw new InvalidDataException("A fragment file is shorter than a Parquet file's trailer.");
        var trailer = new byte[Trailer];
        stream.Position = stream.Length - Trailer;
        await stream.ReadExactlyAsync(trailer, ct);
        long footer = BinaryPrimitives.ReadUInt32LittleEndian(trailer) + (long)Trailer;
        if (footer <= stream.Length && !stream.Holds(stream.Length - footer, footer)) await stream.LoadAsync(stream.Length - footer, checked((int)footer), ct);
    }

    public async Task<bool> MoveNextAsync(CancellationToken ct)
    {
        do
        {
            while (++_row >= _rows)
            {
                if (++_group >= _groups) return false;
                try
                {
                    await ReadGroupAsync(ct);
                }
                catch (ParquetException e)
                {
                    throw new InvalidDataException($"Row group {_group} of fragment file '{_file}' cannot be read: {e.Message}", e);
                }
                _row = -1;
            }
        } while (_keep is not null && !_kept[_row]);
        Current = new FragmentRow(_namespaces[_row]!, _ids[_row]!, _ingestTimes[_row], _datasets[_row]!, _batches[_row]!, RecordAt(_row), _sequences[_row]);
        return true;
    }

    private StoredRecord RecordAt(int row)
    {
        if (_orders[row] is not { } order) return StoredRecord.OfWhole(_records[row]!.Value);
        int count = 0;
        foreach (byte index in order.Span)
            if (_slotOf[index] is >= 0 and var slot && _values[slot][row].HasValue) count++;
        var members = new Member[count];
        count = 0;
        foreach (byte index in order.Span)
            if (_slotOf[index] is >= 0 and var slot && _values[slot][row] is { } value) members[count++] = new Member(Members[index], value);
        return StoredRecord.OfMembers(members);
    }

    private async Task ReadGroupAsync(CancellationToken ct)
    {
        using var group = _reader.RowGroup(_group);
        if ((_keep?.KeepsAnyOf is { } keepsAnyOf && OnlyNamespaceOf(group) is { } ns && !keepsAnyOf(ns))
            || _keep?.KeepsNoneOf?.Contains(_file, _group) == true)
        {
            _rows = 0;
            return;
        }
        var (start, count) = BytesOf(group);
        await _stream.LoadAsync(start, count, ct);
        _rows = checked((int)group.MetaData.NumRows);
        if (_records.Length < _rows)
        {
            (_namespaces, _ids, _datasets, _batches, _ingestTimes, _sequences) = (new string?[_rows], new string?[_rows], new string?[_rows], new string?[_rows], new long[_rows], new long[_rows]);
            (_records, _orders, _bytes, _levels, _indexes) = (new ReadOnlyMemory<byte>?[_rows], new ReadOnlyMemory<byte>?[_rows], new ByteArray[_rows], new short[_rows], new int[_rows]);
            for (int slot = 0; slot < _values.Length; slot++) _values[slot] = new ReadOnlyMemory<byte>?[_rows];
            _kept = new bool[_rows];
        }
        ReadFew(group, _namespace, FragmentColumns.Namespace, _namespaces);
        ReadTexts(group, _id, _ids);
        if (_keep is not null)
        {
            bool any = false, all = true;
            bool keepsNamespace = _keep.KeepsAllOf is { } keepsAllOf && OnlyNamespaceOf(group) is { } only && keepsAllOf(only);
            for (int row = 0; row < _rows; row++)
            {
                bool kept = _kept[row] = keepsNamespace || _keep.Keeps(_namespaces[row]!, _ids[row]!);
                (any, all) = (any | kept, all & kept);
            }
            if (!any)
            {
                _rows = 0;
                return;
            }
            if (all) _keep.KeptWhole?.Add(_file, _group);
        }
        Read<long>(group, _ingestTime, _ingestTimes);
        ReadFew(group, _dataset, FragmentColumns.Dataset, _datasets);
        ReadFew(group, _batch, FragmentColumns.Batch, _batches);
        ReadBytes(group, _record, _records);
        if (_order is { } order) ReadBytes(group, order, _orders);
        else Array.Clear(_orders);
        if (_sequence is { } sequence) Read<long>(group, sequence, _sequences);
        for (int slot = 0; slot < _read.Length; slot++) ReadBytes(group, _read[slot].Column, _values[slot]);
    }

    /// <summary>A column of one value in every row (never null) of the group.</summary>
    private void Read<T>(RowGroupReader group, int column, T[] into) where T : unmanaged
    {
        using var reader = (ColumnReader<T>)group.Column(column);
        for (int row = 0; row < _rows;)
        {
            long levels = 0, values = 0;
            if (reader.HasNext) levels = reader.ReadBatch(_rows - row, _levels, default, into.AsSpan(row, _rows - row), out values);
            if (levels == 0 || values != levels) throw new InvalidDataException($"Column {column} of a fragment file has fewer values than rows, or a null.");
            row += (int)levels;
        }
    }

    /// <summary>
    /// A binary column, each value a slice of one array per batch read (rows outlive the group they were read in);
    /// null for a row without one.
    /// </summary>
    private void ReadBytes(RowGroupReader group, int column, ReadOnlyMemory<byte>?[] into)
    {
        using var reader = (ColumnReader<ByteArray>)group.Column(column);
        bool nullable = reader.ColumnDescriptor.MaxDefinitionLevel > 0;
        for (int row = 0; row < _rows;)
        {
            int levels = ReadBatch(reader, row);
            int length = 0, value = 0;
            for (int r = 0; r < levels; r++)
                if (!nullable || _levels[r] > 0) length += _bytes[value++].Length;
            var bytes = new byte[length];
            int at = 0;
            value = 0;
            for (int r = 0; r < levels; r++)
            {
                if (nullable && _levels[r] == 0)
                {
                    into[row + r] = null;
                    continue;
                }
                var (pointer, size) = (_bytes[value].Pointer, _bytes[value++].Length);
                if (size > 0) Marshal.Copy(pointer, bytes, at, size);
                into[row + r] = bytes.AsMemory(at, size);
                at += size;
            }
            row += levels;
        }
    }

    /// <summary>
    /// A column of few distinct values (never null): indexes into the file's values of the column, or in a file of an
    /// earlier build, strings, each value's taken from <see cref="_few"/>.
    /// </summary>
    private void ReadFew(RowGroupReader group, int column, string name, string?[] into)
    {
        if (_indexed is null)
        {
            ReadTexts(group, column, into, _few);
            return;
        }
        var values = _indexed[name];
        Read<int>(group, column, _indexes);
        for (int row = 0; row < _rows; row++)
            into[row] = (uint)_indexes[row] < (uint)values.Length ? values[_indexes[row]]
                : throw new InvalidDataException($"Column {name} of a fragment file has an index without a value.");
    }

    /// <summary>A column of strings (never null), each made once when <paramref name="known"/> is given.</summary>
    private void ReadTexts(RowGroupReader group, int column, string?[] into, Dictionary<string, string>? known = null)
    {
        using var reader = (ColumnReader<ByteArray>)group.Column(column);
        bool nullable = reader.ColumnDescriptor.MaxDefinitionLevel > 0;
        for (int row = 0; row < _rows;)
        {
            int levels = ReadBatch(reader, row);
            for (int r = 0; r < levels; r++)
            {
                if (nullable && _levels[r] == 0) throw new InvalidDataException($"Column {column} of a fragment file has a null.");
                string text = _bytes[r].Length == 0 ? "" : Marshal.PtrToStringUTF8(_bytes[r].Pointer, _bytes[r].Length);
                if (known is not null && !known.TryAdd(text, text)) text = known[text];
                into[row + r] = text;
            }
            row += levels;
        }
    }

    /// <summary>The next batch of a binary column, up to the group's end, into <see cref="_bytes"/> and <see cref="_levels"/>: how many rows it holds.</summary>
    private int ReadBatch(ColumnReader<ByteArray> reader, int row)
    {
        long levels = reader.HasNext ? reader.ReadBatch(_rows - row, _levels, default, _bytes, out _) : 0;
        return levels > 0 ? (int)levels : throw new InvalidDataException($"Column {reader.ColumnIndex} of a fragment file has fewer values than rows.");
    }

    /// <summary>
    /// The namespace of every row of a row group, when its footer's statistics of the namespace column say there is one
    /// (its least and greatest values equal: an index into the file's namespaces); else null — always in a file of an
    /// earlier build, whose namespaces are strings (Apache Parquet C++ does not trust Parquet.Net's statistics of those).
    /// </summary>
    private string? OnlyNamespaceOf(RowGroupReader group)
    {
        if (_indexed is null) return null;
        using var chunk = group.MetaData.GetColumnChunkMetaData(_namespace);
        using var statistics = chunk.IsStatsSet ? chunk.Statistics : null;
        var namespaces = _indexed[FragmentColumns.Namespace];
        return statistics is Statistics<int> { HasMinMax: true } bounds && bounds.Min == bounds.Max && (uint)bounds.Min < (uint)namespaces.Length ? namespaces[bounds.Min] : null;
    }

    /// <summary>Where the column chunks read of a row group lie in the file (Parquet.Net writes a chunk's offset as where it starts).</summary>
    private (long Start, int Count) BytesOf(RowGroupReader group)
    {
        long start = long.MaxValue, end = 0;
        foreach (int column in _readColumns)
        {
            using var chunk = group.MetaData.GetColumnChunkMetaData(column);
            start = Math.Min(start, chunk.FileOffset);
            end = Math.Max(end, chunk.FileOffset + chunk.TotalCompressedSize);
        }
        return (start, checked((int)(end - start)));
    }

    private static void Dispose(ParquetFileReader? reader, ManagedRandomAccessFile? input)
    {
        reader?.Dispose();
        input?.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        Dispose(_reader, _input);
        await _stream.DisposeAsync();
    }
}
