using System.Buffers;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Reads one fragment file row group by row group, column by column with one reader, reusing its column arrays from
/// one group to the next; of the member columns, only those of the names asked for (all when none are named). With a
/// filter of identities, the rows of other identities are left out, and a row group that holds none of its identities
/// is not decoded past its identity columns (a shard's rows are in identity order, so a namespace's are together), nor
/// fetched when its rows are all of a namespace the filter keeps none of, or when the filter names it among the groups
/// it keeps none of (<see cref="IdentityFilter"/>).
/// </summary>
internal sealed class FragmentFileReader : IAsyncDisposable
{
    private readonly string _file;
    private readonly BlobRangeStream _stream;
    private readonly ParquetReader _reader;
    private readonly DataField _namespace, _id, _ingestTime, _dataset, _batch, _record;
    private readonly DataField? _order, _sequence;
    /// <summary>The memberships index, when the read asked for it and the file has one; and the slot of the member it stands for (-1: none read).</summary>
    private readonly DataField? _memberships;
    private readonly int _indexedSlot = -1;
    private ReadOnlyMemory<byte>?[] _membershipIndexes = [];
    /// <summary>The member columns read: their index among the file's names, and their field.</summary>
    private readonly (int Index, DataField Field)[] _read;
    /// <summary>For each of the file's names, where its column's values are in <see cref="_values"/> (-1: not read).</summary>
    private readonly int[] _slotOf;
    private readonly HashSet<string> _readColumns;
    private readonly IdentityFilter? _keep;
    private bool[] _kept = [];
    private int _group = -1;
    private int _rows;
    private int _row = -1;
    private string?[] _namespaces = [], _ids = [], _datasets = [], _batches = [];
    private ReadOnlyMemory<byte>?[] _records = [], _orders = [], _idBytes = [];
    /// <summary>The last identity id read, and its bytes: a row of the same identity takes its string.</summary>
    private string? _lastId;
    private ReadOnlyMemory<byte> _lastIdBytes;
    private ReadOnlyMemory<byte>?[][] _values;
    private long[] _ingestTimes = [], _sequences = [];
    /// <summary>A column's values as Parquet.Net reads them raw (those of rows that have one), and each row's definition level.</summary>
    private ReadOnlyMemory<byte>[] _bytes = [];
    private ReadOnlyMemory<char>[] _chars = [];
    private int[] _levels = [], _indexes = [];
    /// <summary>The values of the file's namespace, dataset and batch columns, by column (<see cref="FragmentColumns.ValuesKey"/>); null in a file of an earlier build.</summary>
    private readonly Dictionary<string, string[]>? _indexed;
    /// <summary>In a file of an earlier build, the strings of its namespaces, dataset and batch ids: made once, not once a row.</summary>
    private readonly Dictionary<string, string> _few = new(StringComparer.Ordinal);
    /// <summary>Whether the file's binary columns hold packs of values (<see cref="FragmentColumns.PackedKey"/>), not a value per row.</summary>
    private readonly bool _packed;

    private FragmentFileReader(string file, BlobRangeStream stream, ParquetReader reader, MemberSelection? members, IdentityFilter? keep)
    {
        _file = file;
        _stream = stream;
        _reader = reader;
        _keep = keep;
        var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
        (_namespace, _id, _ingestTime) = (fields[FragmentColumns.Namespace], fields[FragmentColumns.Id], fields[FragmentColumns.IngestTime]);
        (_dataset, _batch, _record) = (fields[FragmentColumns.Dataset], fields[FragmentColumns.Batch], fields[FragmentColumns.Record]);
        _order = fields.GetValueOrDefault(FragmentColumns.Order);
        _sequence = fields.GetValueOrDefault(FragmentColumns.Sequence);
        _indexed = reader.CustomMetadata.TryGetValue(FragmentColumns.ValuesKey, out string? values) ? IndexedValuesOf(values) : null;
        _packed = reader.CustomMetadata.ContainsKey(FragmentColumns.PackedKey);
        Members = reader.CustomMetadata.TryGetValue(FragmentColumns.MembersKey, out string? names)
            ? JsonSerializer.Deserialize<string[]>(names)!.Select(MemberName.Of).ToArray()
            : [];
        _read = Members.Select((name, i) => (i, name)).Where(m => members is null || members.Reads(m.name.Text))
            .Select(m => (m.i, fields[FragmentColumns.MemberColumn(m.i)])).ToArray();
        _slotOf = Enumerable.Repeat(-1, Members.Count).ToArray();
        for (int slot = 0; slot < _read.Length; slot++) _slotOf[_read[slot].Index] = slot;
        if (members?.Indexed is { } indexed && reader.CustomMetadata.GetValueOrDefault(FragmentColumns.MembershipsKey) == FragmentColumns.MembershipsForm)
        {
            _memberships = fields.GetValueOrDefault(FragmentColumns.Memberships);
            int named = Array.FindIndex(Members.ToArray(), m => m.Text == indexed);
            _indexedSlot = named < 0 ? -1 : _slotOf[named];
        }
        _values = new ReadOnlyMemory<byte>?[_read.Length][];
        _readColumns = [.. new[] { _namespace, _id, _ingestTime, _dataset, _batch, _record, _order, _sequence, _memberships }.OfType<DataField>().Concat(_read.Select(r => r.Field)).Select(f => f.Name)];
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
    public static async Task<FragmentFileReader> OpenAsync(BlobClient blob, long offset, long length, MemberSelection? members, IdentityFilter? keep, CancellationToken ct,
        FragmentFileCache? cache = null, ETag? version = null)
    {
        var stream = await BlobRangeStream.OpenAsync(blob, offset, length, ct, cache, version);
        try
        {
            return new FragmentFileReader(blob.Name, stream, await ParquetReader.CreateAsync(stream, ParquetSettings.Options, leaveStreamOpen: true, cancellationToken: ct), members, keep);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public async Task<bool> MoveNextAsync(CancellationToken ct)
    {
        do
        {
            while (++_row >= _rows)
            {
                if (++_group >= _reader.RowGroupCount) return false;
                await ReadGroupAsync(ct);
                _row = -1;
            }
        } while (_keep is not null && !_kept[_row]);
        Current = new FragmentRow(_namespaces[_row]!, _ids[_row]!, _ingestTimes[_row], _datasets[_row]!, _batches[_row]!, RecordAt(_row), _sequences[_row],
            _memberships is null ? null : _membershipIndexes[_row]);
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
        if ((_keep?.KeepsAnyOf is { } keepsAnyOf && OnlyNamespaceOf(_group) is { } ns && !keepsAnyOf(ns))
            || _keep?.KeepsNoneOf?.Contains(_file, _group) == true)
        {
            _rows = 0;
            return;
        }
        var (start, count) = BytesOf(_group);
        await _stream.LoadAsync(start, count, ct);
        using var group = _reader.OpenRowGroupReader(_group);
        _rows = checked((int)group.RowCount);
        if (_records.Length < _rows)
        {
            (_namespaces, _ids, _datasets, _batches, _ingestTimes, _sequences) = (new string?[_rows], new string?[_rows], new string?[_rows], new string?[_rows], new long[_rows], new long[_rows]);
            (_records, _orders, _idBytes, _bytes, _chars, _levels, _indexes) = (new ReadOnlyMemory<byte>?[_rows], new ReadOnlyMemory<byte>?[_rows], new ReadOnlyMemory<byte>?[_rows],
                new ReadOnlyMemory<byte>[_rows], new ReadOnlyMemory<char>[_rows], new int[_rows], new int[_rows]);
            for (int slot = 0; slot < _values.Length; slot++) _values[slot] = new ReadOnlyMemory<byte>?[_rows];
            _membershipIndexes = new ReadOnlyMemory<byte>?[_rows];
            _kept = new bool[_rows];
        }
        await ReadFewAsync(group, _namespace, _namespaces, ct);
        await ReadIdsAsync(group, ct);
        if (_keep is not null)
        {
            bool any = false, all = true;
            bool keepsNamespace = _keep.KeepsAllOf is { } keepsAllOf && OnlyNamespaceOf(_group) is { } only && keepsAllOf(only);
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
        await group.ReadAsync(_ingestTime, _ingestTimes.AsMemory(0, _rows), null, ct);
        await ReadFewAsync(group, _dataset, _datasets, ct);
        await ReadFewAsync(group, _batch, _batches, ct);
        await ReadBytesAsync(group, _record, _records, ct);
        if (_order is null) Array.Clear(_orders);
        else await ReadBytesAsync(group, _order, _orders, ct);
        if (_sequence is not null) await group.ReadAsync(_sequence, _sequences.AsMemory(0, _rows), null, ct);
        if (_memberships is not null) await ReadBytesAsync(group, _memberships, _membershipIndexes, ct);
        bool indexedWhole = _memberships is not null && Array.IndexOf(_membershipIndexes, null, 0, _rows) < 0;
        for (int slot = 0; slot < _read.Length; slot++)
        {
            if (slot == _indexedSlot && indexedWhole) Array.Clear(_values[slot]);
            else await ReadBytesAsync(group, _read[slot].Field, _values[slot], ct);
        }
    }

    /// <summary>
    /// A binary column, null for a row without a value: slices of its packs in a packed file, else each value as
    /// Parquet.Net decodes it (read as <c>byte[]</c>, it copies every value once more).
    /// </summary>
    private async Task ReadBytesAsync(ParquetRowGroupReader group, DataField field, ReadOnlyMemory<byte>?[] into, CancellationToken ct)
    {
        await group.ReadRawAsync(field, _bytes.AsMemory(0, _rows), _levels.AsMemory(0, _rows), null, ct);
        if (_packed)
        {
            if (!field.IsNullable) throw new InvalidDataException($"Column {field.Name} of a packed fragment file is not nullable.");
            var levels = _levels.AsSpan(0, _rows);
            ValuePacks.Unpack(_bytes.AsSpan(0, _rows - levels.Count(0)), levels, _rows, into, field.Name);
            return;
        }
        for (int row = 0, value = 0; row < _rows; row++)
            into[row] = field.IsNullable && _levels[row] == 0 ? (ReadOnlyMemory<byte>?)null : _bytes[value++];
    }

    /// <summary>
    /// The identity ids: UTF-8 in packs, each row's string the row before's when their bytes are equal (an identity's
    /// fragments in a file are together), or in a file of an earlier build, strings.
    /// </summary>
    private async Task ReadIdsAsync(ParquetRowGroupReader group, CancellationToken ct)
    {
        if (FragmentColumns.HoldsTextIds(_id))
        {
            await group.ReadAsync(_id, _ids.AsMemory(0, _rows), null, ct);
            return;
        }
        await ReadBytesAsync(group, _id, _idBytes, ct);
        for (int row = 0; row < _rows; row++)
        {
            var text = _idBytes[row] ?? throw new InvalidDataException($"Column {_id.Name} of a fragment file has a null.");
            if (_lastId is null || !text.Span.SequenceEqual(_lastIdBytes.Span)) (_lastId, _lastIdBytes) = (Encoding.UTF8.GetString(text.Span), text);
            _ids[row] = _lastId;
        }
    }

    /// <summary>
    /// A column of few distinct values (never null): indexes into the file's values of the column, or in a file of an
    /// earlier build, strings, each value's taken from <see cref="_few"/>.
    /// </summary>
    private async Task ReadFewAsync(ParquetRowGroupReader group, DataField field, string?[] into, CancellationToken ct)
    {
        if (_indexed is not null)
        {
            var values = _indexed[field.Name];
            await group.ReadAsync<int>(field, _indexes.AsMemory(0, _rows), null, ct);
            for (int row = 0; row < _rows; row++)
                into[row] = (uint)_indexes[row] < (uint)values.Length ? values[_indexes[row]]
                    : throw new InvalidDataException($"Column {field.Name} of a fragment file has an index without a value.");
            return;
        }
        await group.ReadRawAsync(field, _chars.AsMemory(0, _rows), _levels.AsMemory(0, _rows), null, ct);
        var few = _few.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int row = 0, value = 0; row < _rows; row++)
        {
            if (field.IsNullable && _levels[row] == 0) throw new InvalidDataException($"Column {field.Name} of a fragment file has a null.");
            var text = _chars[value++].Span;
            if (!few.TryGetValue(text, out string? known)) few[text] = known = new string(text);
            into[row] = known;
        }
    }

    /// <summary>
    /// The namespace of every row of a row group, when its footer's statistics of the namespace column say there is one
    /// (its least and greatest values equal, whole values as the service's writer writes them: an index into the file's
    /// namespaces, or in a file of an earlier build, the namespace); else null.
    /// </summary>
    private string? OnlyNamespaceOf(int group)
    {
        var statistics = _reader.Metadata!.RowGroups[group].Columns.FirstOrDefault(c => c.MetaData?.PathInSchema[0] == FragmentColumns.Namespace)?.MetaData!.Statistics;
        if (statistics is not { MinValue: { } least, MaxValue: { } greatest, IsMinValueExact: not false, IsMaxValueExact: not false } || !least.AsSpan().SequenceEqual(greatest))
            return null;
        if (_indexed is null) return Encoding.UTF8.GetString(least);
        var namespaces = _indexed[FragmentColumns.Namespace];
        return least.Length == sizeof(int) && System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(least) is var index && (uint)index < (uint)namespaces.Length ? namespaces[index] : null;
    }

    /// <summary>Where the column chunks read of a row group lie in the file.</summary>
    private (long Start, int Count) BytesOf(int group)
    {
        long start = long.MaxValue, end = 0;
        foreach (var column in _reader.Metadata!.RowGroups[group].Columns)
        {
            var chunk = column.MetaData!;
            if (!_readColumns.Contains(chunk.PathInSchema[0])) continue;
            long first = chunk.DictionaryPageOffset is > 0 and var dictionary ? Math.Min(dictionary, chunk.DataPageOffset) : chunk.DataPageOffset;
            start = Math.Min(start, first);
            end = Math.Max(end, first + chunk.TotalCompressedSize);
        }
        return (start, checked((int)(end - start)));
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync();
        await _stream.DisposeAsync();
    }
}
