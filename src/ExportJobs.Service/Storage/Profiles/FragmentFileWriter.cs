using System.Buffers;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Writes fragment rows, already in file order, row group by row group, with a column for each of <c>members</c> and,
/// with <c>typedLeaves</c>, the typed leaves of those whose values have a shape (<see cref="LeafShape"/>): inferred from
/// the first row group's values and the leaves <c>declared</c> (<see cref="LeafShape.Infer"/>), so the file is begun
/// when that group is written.
/// </summary>
internal sealed class FragmentFileWriter : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly IReadOnlyList<MemberName> _members;
    private readonly bool _typedLeaves;
    private readonly IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? _declared;
    private ParquetWriter? _writer;
    private DataField[] _fields = [];
    private DataField? _membershipsField;
    /// <summary>By member column: the typed leaves of a row group (null: the member has none), and their fields.</summary>
    private LeafColumns?[] _leaves = [];
    private DataField[][] _leafFields = [];
    private readonly Dictionary<string, int> _columns;
    private readonly int _groupRows;
    private readonly List<FragmentRow> _rows;

    /// <summary>
    /// A row group's values of the <c>Record</c>, <c>Members</c> and member columns (slices of the records' text) and of
    /// the identity ids, and the packs they are written as (<see cref="WritePackedAsync"/>).
    /// </summary>
    private readonly ReadOnlyMemory<byte>?[] _wholes, _orders, _packs, _ids;
    private readonly ReadOnlyMemory<byte>?[][] _values;
    /// <summary>A row group's memberships indexes (<see cref="MembershipIndex"/>), slices of <see cref="_indexText"/>.</summary>
    private readonly ReadOnlyMemory<byte>?[] _memberships;
    private readonly ArrayBufferWriter<byte> _indexText = new(), _rowIndex = new();
    /// <summary>Where each row's index ends in <see cref="_indexText"/> (-1: the index does not describe the row).</summary>
    private readonly int[] _ends;
    /// <summary>The values of the few-valued columns (<see cref="FragmentColumns.Indexed"/>), first seen first, and a row group's indexes into them.</summary>
    private readonly IndexedValues _namespaces = new(), _datasets = new(), _batches = new();
    private readonly int[] _indexes;

    private FragmentFileWriter(Stream stream, IReadOnlyList<MemberName> members, int groupRows, bool typedLeaves,
        IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared)
    {
        (_stream, _members, _typedLeaves, _declared) = (stream, members, typedLeaves, declared);
        _groupRows = groupRows;
        _rows = new(groupRows);
        (_wholes, _orders, _packs, _ids, _memberships) = (new ReadOnlyMemory<byte>?[groupRows], new ReadOnlyMemory<byte>?[groupRows],
            new ReadOnlyMemory<byte>?[groupRows], new ReadOnlyMemory<byte>?[groupRows], new ReadOnlyMemory<byte>?[groupRows]);
        _ends = Enumerable.Repeat(-1, groupRows).ToArray();
        _indexes = new int[groupRows];
        _values = members.Select(_ => new ReadOnlyMemory<byte>?[groupRows]).ToArray();
        _columns = members.Select((name, i) => (name.Text, i)).ToDictionary(m => m.Text, m => m.i, StringComparer.Ordinal);
    }

    /// <summary>Begins the file, its members' shapes inferred from the rows held (the first row group's; none in a file without rows).</summary>
    private async Task StartAsync(CancellationToken ct)
    {
        var shapes = _members.Select(name => !_typedLeaves || FragmentColumns.MapMembers.Contains(name.Text) ? null
            : LeafShape.Infer(_rows.Select(r => r.Record.ValueOf(name)).OfType<ReadOnlyMemory<byte>>(), _declared?.GetValueOrDefault(name.Text))).ToArray();
        var schema = FragmentColumns.Schema(_members.Count, shapes);
        _fields = schema.GetDataFields();
        _membershipsField = _fields.Single(f => f.Name == FragmentColumns.Memberships);
        _leaves = shapes.Select(shape => shape is null ? null : new LeafColumns(shape, _groupRows)).ToArray();
        _leafFields = shapes.Select((shape, m) => shape is null ? [] : shape.Leaves.Select((_, j) => _fields.Single(f => f.Name == FragmentColumns.LeafColumn(m, j))).ToArray()).ToArray();
        _writer = await ParquetWriter.CreateAsync(schema, _stream, ParquetSettings.Options, cancellationToken: ct);
        _writer.CustomMetadata = new Dictionary<string, string>
        {
            [FragmentColumns.MembersKey] = JsonSerializer.Serialize(_members.Select(m => m.Text)), [FragmentColumns.PackedKey] = "1",
            [FragmentColumns.MembershipsKey] = FragmentColumns.MembershipsForm, [FragmentColumns.LeavesKey] = FragmentColumns.LeavesText(shapes),
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

    /// <param name="groupRows">The rows of a row group: <see cref="FragmentColumns.RowGroupSize"/>, unless the file is a routed section (<see cref="FragmentColumns.RoutedRowGroupSize"/>).</param>
    /// <param name="typedLeaves">Whether members whose values are objects get typed leaves (<see cref="ExportStorageOptions.TypedLeaves"/>).</param>
    /// <param name="declared">By member, the leaves it has whatever the first row group's values hold (<see cref="LeafShape.DeclaredBy(ExportJobs.Core.Schemas.SchemaNode)"/>).</param>
    public static FragmentFileWriter Create(Stream stream, IReadOnlyList<MemberName> members, int groupRows = FragmentColumns.RowGroupSize, bool typedLeaves = false,
        IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared = null) =>
        new(stream, members.Count > FragmentColumns.MaxMembers ? members.Take(FragmentColumns.MaxMembers).ToList() : members, groupRows, typedLeaves, declared);

    public async Task AddAsync(FragmentRow row, CancellationToken ct)
    {
        _rows.Add(row);
        if (_rows.Count == _groupRows) await FlushAsync(ct);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_writer is null) await StartAsync(ct);
        int rows = _rows.Count;
        var (wholes, orders, values) = (_wholes, _orders, _values);
        for (int r = 0; r < rows; r++)
        {
            var record = _rows[r].Record;
            if (ColumnsOf(record) is { } order)
            {
                orders[r] = order;
                for (int m = 0; m < order.Length; m++)
                {
                    var value = record.Members[m].Value;
                    if (_leaves[order[m]] is not { } leaves || !leaves.Shape.TryShred(value, leaves, r)) values[order[m]][r] = value;
                }
            }
            else wholes[r] = record.ToJson();
        }

        using var group = _writer!.CreateRowGroup();
        await WriteIndexesAsync(group, _fields[0], _namespaces, r => r.IdentityNamespace, ct);
        await WriteIdsAsync(group, rows, ct);
        await group.WriteAsync<long>(_fields[2], _rows.Select(r => r.IngestTimeMs).ToArray().AsMemory(), null, null, ct);
        await WriteIndexesAsync(group, _fields[3], _datasets, r => r.DatasetId, ct);
        await WriteIndexesAsync(group, _fields[4], _batches, r => r.BatchId, ct);
        await WritePackedAsync(group, _fields[5], wholes, rows, ct);
        await WritePackedAsync(group, _fields[6], orders, rows, ct);
        await group.WriteAsync<long>(_fields[7], _rows.Select(r => r.Sequence).ToArray().AsMemory(), null, null, ct);
        for (int c = 0; c < values.Length; c++) await WritePackedAsync(group, _fields[FragmentColumns.FirstMember + c], values[c], rows, ct);
        await WriteMembershipsAsync(group, rows, ct);
        for (int c = 0; c < _leaves.Length; c++)
        {
            if (_leaves[c] is not { } leaves) continue;
            await leaves.WriteAsync(group, _leafFields[c], rows, (field, strings) => WritePackedAsync(group, field, strings, rows, ct), ct);
            leaves.Clear(rows);
        }
        group.CompleteValidate();
        _rows.Clear();
        foreach (var column in (ReadOnlyMemory<byte>?[][])[wholes, orders, _memberships, .. values]) Array.Clear(column);
    }

    /// <summary>The memberships index of each of the row group's records, in packs.</summary>
    private async Task WriteMembershipsAsync(ParquetRowGroupWriter group, int rows, CancellationToken ct)
    {
        _indexText.ResetWrittenCount();
        for (int r = 0; r < rows; r++)
        {
            _rowIndex.ResetWrittenCount();
            if (!MembershipIndex.TryWrite(_rows[r].Record, _rowIndex)) continue;
            _ends[r] = _indexText.WrittenCount + _rowIndex.WrittenCount;
            _indexText.Write(_rowIndex.WrittenSpan);
        }
        for (int r = 0, start = 0; r < rows; r++)
        {
            if (_ends[r] < 0) continue;
            _memberships[r] = _indexText.WrittenMemory[start.._ends[r]];
            start = _ends[r];
        }
        Array.Fill(_ends, -1);
        await WritePackedAsync(group, _membershipsField!, _memberships, rows, ct);
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
        if (_writer is null) await StartAsync(default);
        // The footer, written now, holds the values every row group's indexes point into.
        _writer!.CustomMetadata = new Dictionary<string, string>(_writer.CustomMetadata)
        {
            [FragmentColumns.ValuesKey] = JsonSerializer.Serialize(new Dictionary<string, List<string>>
            {
                [FragmentColumns.Namespace] = _namespaces.Values, [FragmentColumns.Dataset] = _datasets.Values, [FragmentColumns.Batch] = _batches.Values,
            }),
        };
        await _writer.DisposeAsync();
    }
}
