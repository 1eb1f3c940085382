using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// One fragment as a row of a fragment file: identity, provenance, and the record (its members' JSON as UTF-8, parsed
/// as it is, never decoded to strings) — arrays of their own when read, slices of an ingestion's chunk buffer when written.
/// </summary>
internal sealed record FragmentRow(string IdentityNamespace, string IdentityId, long IngestTimeMs, string DatasetId, string BatchId, StoredRecord Record, long Sequence = 0)
{
    /// <summary>Rows in the order of their identities' keys (<see cref="IdentityKey"/>).</summary>
    public static int CompareIdentities(FragmentRow a, FragmentRow b) => IdentityKey.Compare(a.IdentityNamespace, a.IdentityId, b.IdentityNamespace, b.IdentityId);

    /// <summary>The fragment of <paramref name="identity"/> (this row's), its record already parsed as <paramref name="record"/>.</summary>
    public ProfileFragment ToFragment(Identity identity, JsonElement record) => new(identity, IngestTimeMs, DatasetId, BatchId, record, Sequence);
}

/// <summary>
/// The columns of a fragment file, and its row groups: a shard is read holding one of each of its runs (few, as
/// compaction bounds them), and a file's footer describes each of its groups (too small, and the footers grow large).
/// Each top-level member name of the file's records has a column <c>m{i}</c> of its values' JSON text, its name the
/// i-th of the file's <see cref="MembersKey"/> metadata (so any name is allowed); <see cref="Order"/> holds, per row,
/// the indexes of its members in the record's order; <see cref="Record"/> the whole text of a record kept whole
/// (<see cref="StoredRecord"/>); <see cref="Sequence"/> the record's place in its batch. A file of an earlier build has
/// only <see cref="Record"/> (every row is whole) and no <see cref="Sequence"/> (every row's is 0).
/// </summary>
internal static class FragmentColumns
{
    /// <summary>
    /// 250 rows: a running shard holds one decoded group of each of its runs, so memory grows with this (at 1,000,
    /// peak RSS at N = 1,000,000 was 40 MB higher); requests and footers grow as it shrinks.
    /// </summary>
    public const int RowGroupSize = 250;

    /// <summary>The most member columns a file has (an index of <see cref="Order"/> is a byte); records with other names are kept whole.</summary>
    public const int MaxMembers = 64;

    /// <summary>The longest member name (UTF-8 bytes, as written) that gets a column: a file's metadata names at most 64 × 256 bytes.</summary>
    public const int MaxMemberName = 256;

    /// <summary>The file metadata that names the member columns: a JSON array, the i-th name that of column <c>m{i}</c>.</summary>
    public const string MembersKey = "exportjobs.members";

    /// <summary>
    /// The file metadata that holds the values of the few-valued columns (<see cref="Indexed"/>): a JSON object of one
    /// array per column, whose rows hold indexes into it. A file without it (of an earlier build) holds their strings.
    /// </summary>
    public const string ValuesKey = "exportjobs.values";

    /// <summary>
    /// The file metadata that says the file's binary columns (<see cref="Id"/>, as UTF-8, <see cref="Record"/>,
    /// <see cref="Order"/> and the member columns) hold packs of values (<see cref="ValuePacks"/>); a file without it (of
    /// an earlier build) holds a value per row, its <see cref="Id"/> a string column.
    /// </summary>
    public const string PackedKey = "exportjobs.packed";

    /// <summary>Whether a file's <see cref="Id"/> column, as read, holds strings (a file of an earlier build), not UTF-8 in packs.</summary>
    public static bool HoldsTextIds(DataField id) => id.ClrType != typeof(ReadOnlyMemory<byte>) && id.ClrType != typeof(byte[]);

    public const string Namespace = nameof(FragmentRow.IdentityNamespace), Id = nameof(FragmentRow.IdentityId), IngestTime = nameof(FragmentRow.IngestTimeMs),
        Dataset = nameof(FragmentRow.DatasetId), Batch = nameof(FragmentRow.BatchId), Record = nameof(FragmentRow.Record), Order = "Members",
        Sequence = nameof(FragmentRow.Sequence);

    /// <summary>
    /// The columns of few distinct values in a file (a shard's namespaces; an ingested file's one dataset and batch, a
    /// compacted one's few), kept as indexes into <see cref="ValuesKey"/>: a read decodes a column of integers, where
    /// a column of strings cost a decoded array per row and value.
    /// </summary>
    public static readonly string[] Indexed = [Namespace, Dataset, Batch];

    /// <summary>Where the member columns start among the fields of <see cref="Schema"/>.</summary>
    public const int FirstMember = 8;

    public static string MemberColumn(int index) => "m" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A file's schema, with <paramref name="members"/> member columns: fields of its own (Parquet.Net sets a field's
    /// levels and path when a schema takes it, so schemas built at once must not share them).
    /// </summary>
    public static ParquetSchema Schema(int members) => new(
    [
        new DataField(Namespace, typeof(int)), new DataField(Id, typeof(byte[]), isNullable: true), new DataField(IngestTime, typeof(long)),
        new DataField(Dataset, typeof(int)), new DataField(Batch, typeof(int)),
        new DataField(Record, typeof(byte[]), isNullable: true), new DataField(Order, typeof(byte[]), isNullable: true),
        new DataField(Sequence, typeof(long)),
        .. Enumerable.Range(0, members).Select(i => new DataField(MemberColumn(i), typeof(byte[]), isNullable: true)),
    ]);

    /// <summary>The member names of the rows, first seen first, as many as a file has columns for.</summary>
    public static IReadOnlyList<MemberName> NamesOf(IEnumerable<MemberName> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var table = new List<MemberName>();
        foreach (var name in names)
        {
            if (table.Count == MaxMembers) break;
            if (seen.Add(name.Text)) table.Add(name);
        }
        return table;
    }
}

/// <summary>Writes fragment rows, already in file order, row group by row group, with a column for each of <c>members</c>.</summary>
internal sealed class FragmentFileWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly DataField[] _fields;
    private readonly Dictionary<string, int> _columns;
    private readonly List<FragmentRow> _rows = new(FragmentColumns.RowGroupSize);

    /// <summary>
    /// A row group's values of the <c>Record</c>, <c>Members</c> and member columns (slices of the records' text) and of
    /// the identity ids, and the packs they are written as (<see cref="WritePackedAsync"/>).
    /// </summary>
    private readonly ReadOnlyMemory<byte>?[] _wholes = new ReadOnlyMemory<byte>?[FragmentColumns.RowGroupSize], _orders = new ReadOnlyMemory<byte>?[FragmentColumns.RowGroupSize],
        _packs = new ReadOnlyMemory<byte>?[FragmentColumns.RowGroupSize], _ids = new ReadOnlyMemory<byte>?[FragmentColumns.RowGroupSize];
    private readonly ReadOnlyMemory<byte>?[][] _values;
    /// <summary>The values of the few-valued columns (<see cref="FragmentColumns.Indexed"/>), first seen first, and a row group's indexes into them.</summary>
    private readonly IndexedValues _namespaces = new(), _datasets = new(), _batches = new();
    private readonly int[] _indexes = new int[FragmentColumns.RowGroupSize];

    private FragmentFileWriter(ParquetWriter writer, ParquetSchema schema, IReadOnlyList<MemberName> members)
    {
        _writer = writer;
        _fields = schema.GetDataFields();
        _values = members.Select(_ => new ReadOnlyMemory<byte>?[FragmentColumns.RowGroupSize]).ToArray();
        _columns = members.Select((name, i) => (name.Text, i)).ToDictionary(m => m.Text, m => m.i, StringComparer.Ordinal);
        writer.CustomMetadata = new Dictionary<string, string>
        {
            [FragmentColumns.MembersKey] = JsonSerializer.Serialize(members.Select(m => m.Text)), [FragmentColumns.PackedKey] = "1",
        };
    }

    /// <summary>The distinct values of a column in a file, each with its index.</summary>
    private sealed class IndexedValues
    {
        private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

        public List<string> Values { get; } = [];

        public int IndexOf(string value)
        {
            if (!_index.TryGetValue(value, out int index))
            {
                _index[value] = index = Values.Count;
                Values.Add(value);
            }
            return index;
        }
    }

    private async Task WriteIndexesAsync(ParquetRowGroupWriter group, DataField field, IndexedValues values, Func<FragmentRow, string> of, CancellationToken ct)
    {
        for (int r = 0; r < _rows.Count; r++) _indexes[r] = values.IndexOf(of(_rows[r]));
        await group.WriteAsync<int>(field, _indexes.AsMemory(0, _rows.Count), null, null, ct);
    }

    public static async Task<FragmentFileWriter> CreateAsync(Stream stream, IReadOnlyList<MemberName> members, CancellationToken ct)
    {
        members = members.Count > FragmentColumns.MaxMembers ? members.Take(FragmentColumns.MaxMembers).ToList() : members;
        var schema = FragmentColumns.Schema(members.Count);
        return new(await ParquetWriter.CreateAsync(schema, stream, ParquetSettings.Options, cancellationToken: ct), schema, members);
    }

    public async Task AddAsync(FragmentRow row, CancellationToken ct)
    {
        _rows.Add(row);
        if (_rows.Count == FragmentColumns.RowGroupSize) await FlushAsync(ct);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        int rows = _rows.Count;
        var (wholes, orders, values) = (_wholes, _orders, _values);
        for (int r = 0; r < rows; r++)
        {
            var record = _rows[r].Record;
            if (ColumnsOf(record) is { } order)
            {
                orders[r] = order;
                for (int m = 0; m < order.Length; m++) values[order[m]][r] = record.Members[m].Value;
            }
            else wholes[r] = record.ToJson();
        }

        using var group = _writer.CreateRowGroup();
        await WriteIndexesAsync(group, _fields[0], _namespaces, r => r.IdentityNamespace, ct);
        await WriteIdsAsync(group, rows, ct);
        await group.WriteAsync<long>(_fields[2], _rows.Select(r => r.IngestTimeMs).ToArray().AsMemory(), null, null, ct);
        await WriteIndexesAsync(group, _fields[3], _datasets, r => r.DatasetId, ct);
        await WriteIndexesAsync(group, _fields[4], _batches, r => r.BatchId, ct);
        await WritePackedAsync(group, _fields[5], wholes, rows, ct);
        await WritePackedAsync(group, _fields[6], orders, rows, ct);
        await group.WriteAsync<long>(_fields[7], _rows.Select(r => r.Sequence).ToArray().AsMemory(), null, null, ct);
        for (int c = 0; c < values.Length; c++) await WritePackedAsync(group, _fields[FragmentColumns.FirstMember + c], values[c], rows, ct);
        group.CompleteValidate();
        _rows.Clear();
        foreach (var column in (ReadOnlyMemory<byte>?[][])[wholes, orders, .. values]) Array.Clear(column);
    }

    /// <summary>The identity ids of the row group's rows, as UTF-8 in packs.</summary>
    private async Task WriteIdsAsync(ParquetRowGroupWriter group, int rows, CancellationToken ct)
    {
        int bytes = 0;
        for (int r = 0; r < rows; r++) bytes += Encoding.UTF8.GetMaxByteCount(_rows[r].IdentityId.Length);
        byte[] text = ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            for (int r = 0, at = 0; r < rows; r++)
            {
                int length = Encoding.UTF8.GetBytes(_rows[r].IdentityId, text.AsSpan(at));
                _ids[r] = text.AsMemory(at, length);
                at += length;
            }
            await WritePackedAsync(group, _fields[1], _ids, rows, ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(text);
        }
    }

    /// <summary>A binary column's values of the row group's first <paramref name="rows"/> rows, as packs (<see cref="ValuePacks"/>).</summary>
    private async Task WritePackedAsync(ParquetRowGroupWriter group, DataField field, ReadOnlyMemory<byte>?[] values, int rows, CancellationToken ct)
    {
        ValuePacks.Pack(values.AsSpan(0, rows), _packs, out byte[] buffer);
        try
        {
            await group.WriteAsync<ReadOnlyMemory<byte>>(field, _packs.AsMemory(0, rows), null, null, ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The columns of a record's members, in its order; null when it is kept whole (or has a name the file has no column for).</summary>
    private byte[]? ColumnsOf(StoredRecord record)
    {
        if (record.IsWhole) return null;
        var order = new byte[record.Members.Count];
        for (int m = 0; m < order.Length; m++)
        {
            if (!_columns.TryGetValue(record.Members[m].Name.Text, out int column)) return null;
            order[m] = (byte)column;
        }
        return order;
    }

    public async ValueTask DisposeAsync()
    {
        if (_rows.Count > 0) await FlushAsync(default);
        // The footer, written now, holds the values every row group's indexes point into.
        _writer.CustomMetadata = new Dictionary<string, string>(_writer.CustomMetadata)
        {
            [FragmentColumns.ValuesKey] = JsonSerializer.Serialize(new Dictionary<string, List<string>>
            {
                [FragmentColumns.Namespace] = _namespaces.Values, [FragmentColumns.Dataset] = _datasets.Values, [FragmentColumns.Batch] = _batches.Values,
            }),
        };
        await _writer.DisposeAsync();
    }
}

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
        _values = new ReadOnlyMemory<byte>?[_read.Length][];
        _readColumns = [.. new[] { _namespace, _id, _ingestTime, _dataset, _batch, _record, _order, _sequence }.OfType<DataField>().Concat(_read.Select(r => r.Field)).Select(f => f.Name)];
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
        for (int slot = 0; slot < _read.Length; slot++) await ReadBytesAsync(group, _read[slot].Field, _values[slot], ct);
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

/// <summary>
/// A fragment file: a blob (<see cref="Offset"/> 0, <see cref="Length"/> its size), or a section of one (a route of a
/// <c>pdg</c> export writes its files for every partition into one blob); of the blob's <see cref="Version"/> (its ETag)
/// when known, which a host's copy of it must be of (<see cref="FragmentFileCache"/>).
/// </summary>
internal readonly record struct FileSection(string Name, long Offset, long Length, ETag? Version = null);

/// <summary>
/// Reads a run of fragment files — one ingested file, or the parts a compaction wrote, whose identity ranges follow
/// each other — as one stream of rows, holding one part open at a time (its footer, a window of its bytes, one row
/// group), and none once the run is read; of its records, the members of <c>members</c> (all when null).
/// <see cref="Index"/> is the run's place among the runs read with it (older runs first).
/// </summary>
internal sealed class FragmentCursor : IAsyncDisposable
{
    private readonly Queue<(BlobClient Blob, FileSection Section)> _parts;
    private readonly MemberSelection? _members;
    private readonly IdentityFilter? _keep;
    private readonly FragmentFileCache? _cache;
    private FragmentFileReader? _file;

    private FragmentCursor(IEnumerable<(BlobClient Blob, FileSection Section)> parts, int index, MemberSelection? members, IdentityFilter? keep, FragmentFileCache? cache)
    {
        _parts = new(parts);
        Index = index;
        _members = members;
        _keep = keep;
        _cache = cache;
    }

    public int Index { get; }
    public FragmentRow Current { get; private set; } = null!;

    /// <summary>The member names of the run's parts read so far (a compacted run's parts all have the same; the first is read on opening).</summary>
    public IReadOnlyList<MemberName> Members { get; private set; } = [];

    /// <summary>
    /// The run of files (in part order, each a blob or a section of one) positioned on its first row (of an identity
    /// <paramref name="keep"/> keeps, when given); null when it has none. Files are read from the host's copies in
    /// <paramref name="cache"/>, a copy made when a file without one is first read.
    /// </summary>
    public static async Task<FragmentCursor?> OpenAsync(IEnumerable<(BlobClient Blob, FileSection Section)> parts, int index, MemberSelection? members,
        IdentityFilter? keep, FragmentFileCache? cache, CancellationToken ct)
    {
        var cursor = new FragmentCursor(parts, index, members, keep, cache);
        try
        {
            if (await cursor.MoveNextAsync(ct)) return cursor;
        }
        catch
        {
            await cursor.DisposeAsync();
            throw;
        }
        await cursor.DisposeAsync();
        return null;
    }

    public async Task<bool> MoveNextAsync(CancellationToken ct)
    {
        while (true)
        {
            if (_file is not null && await _file.MoveNextAsync(ct))
            {
                Current = _file.Current;
                return true;
            }
            await DisposeAsync();
            if (!_parts.TryDequeue(out var next)) return false;
            _file = await FragmentFileReader.OpenAsync(next.Blob, next.Section.Offset, next.Section.Length, _members, _keep, ct, _cache, next.Section.Version);
            if (Members.Count == 0) Members = _file.Members;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_file is not null) await _file.DisposeAsync();
        _file = null;
    }

    /// <summary>
    /// The rows of several runs as one stream ordered by identity key, then by run, then as each run holds them —
    /// a k-way merge holding one row group of each run. Each cursor is yielded on the row that comes next.
    /// </summary>
    public static async IAsyncEnumerable<FragmentCursor> MergeAsync(IReadOnlyList<FragmentCursor> runs, [EnumeratorCancellation] CancellationToken ct)
    {
        var queue = new PriorityQueue<FragmentCursor, (FragmentRow Row, int Run)>(KeyThenRun.Instance);
        foreach (var run in runs) queue.Enqueue(run, (run.Current, run.Index));
        while (queue.TryDequeue(out var run, out _))
        {
            yield return run;
            if (await run.MoveNextAsync(ct)) queue.Enqueue(run, (run.Current, run.Index));
        }
    }

    private sealed class KeyThenRun : IComparer<(FragmentRow Row, int Run)>
    {
        public static readonly KeyThenRun Instance = new();

        public int Compare((FragmentRow Row, int Run) x, (FragmentRow Row, int Run) y)
        {
            int byKey = FragmentRow.CompareIdentities(x.Row, y.Row);
            return byKey != 0 ? byKey : x.Run.CompareTo(y.Run);
        }
    }
}
