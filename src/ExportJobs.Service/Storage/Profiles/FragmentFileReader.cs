using System.Buffers;
using System.Text;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Reads one fragment file row group by row group, column by column with one reader, into two sets of column arrays
/// used in turn (<see cref="GroupValues"/>), so that the rows of the group before stay readable in place for a while
/// (<see cref="FragmentRowView"/>); of the member columns, only those of the names asked for (all when none are named). With a
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
    /// <summary>The member columns read: their index among the file's names, and their field.</summary>
    private readonly (int Index, DataField Field)[] _read;
    /// <summary>For each of the file's names, where its column's values are in <see cref="GroupValues.Values"/> (-1: not read).</summary>
    private readonly int[] _slotOf;
    /// <summary>
    /// By slot: the typed leaves of a member read that has them (<see cref="LeafShape"/>), decoded a row group at a time,
    /// and those the read needs (<see cref="MemberSelection.ReadsLeaf"/>) with their fields: the others stay empty.
    /// </summary>
    private readonly LeafColumns?[] _leaves;
    private readonly (int Leaf, DataField Field)[][] _leafFields;
    private readonly HashSet<string> _readColumns;
    private readonly IdentityFilter? _keep;
    private int _group = -1;
    /// <summary>The rows of the row group read last (none when the read kept none of them), and the one the reader is on.</summary>
    private int _rows;
    private int _row = -1;
    /// <summary>
    /// The row group read, and the other set of arrays: the group before, whose rows' views stay valid (see
    /// <see cref="FragmentRowView"/>). A group is read into the other, which becomes current when it has rows.
    /// </summary>
    private GroupValues _current, _other;
    /// <summary>Whether the other holds the group before until the reader moves on from the current group's first row: then no view of it is left.</summary>
    private bool _otherHeld;
    private FragmentRow? _materialized;
    /// <summary>A column's values as Parquet.Net reads them raw (those of rows that have one), and each row's definition level.</summary>
    private ReadOnlyMemory<byte>[] _bytes = [];
    private ReadOnlyMemory<char>[] _chars = [];
    private int[] _levels = [], _indexes = [];
    /// <summary>The members of the row a view writes as JSON (<see cref="FragmentRowView"/>), one row at a time.</summary>
    private readonly Member[] _scratch;
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
        var shapes = Shapes = FragmentColumns.ShapesOf(reader.CustomMetadata.GetValueOrDefault(FragmentColumns.LeavesKey), Members.Count);
        int mostRows = checked((int)reader.Metadata!.RowGroups.Select(g => g.NumRows).DefaultIfEmpty(0).Max());
        _leaves = _read.Select(r => shapes[r.Index] is { } shape ? new LeafColumns(shape, mostRows) : null).ToArray();
        _leafFields = _read.Select(r => FragmentColumns.LeafFields(r.Index, shapes[r.Index])
            .Select((f, leaf) => (leaf, field: fields.GetValueOrDefault(f.Name) ?? throw new InvalidDataException($"A fragment file names a typed leaf it has no column {f.Name} of.")))
            .Where(l => members is null || members.ReadsLeaf(Members[r.Index].Text, shapes[r.Index]!.Leaves[l.leaf].Path)).ToArray()).ToArray();
        (_current, _other) = (new GroupValues(_read.Length), new GroupValues(_read.Length));
        _scratch = new Member[Members.Count];
        _readColumns = [.. new[] { _namespace, _id, _ingestTime, _dataset, _batch, _record, _order, _sequence, _memberships }.OfType<DataField>()
            .Concat(_read.Select(r => r.Field)).Concat(_leafFields.SelectMany(f => f).Select(l => l.Field)).Select(f => f.Name)];
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

    /// <summary>By member, the typed leaves the file keeps of it (null: none).</summary>
    public IReadOnlyList<LeafShape?> Shapes { get; }

    /// <summary>The pooled arrays its two groups hold (for tests: a group read and left holds none).</summary>
    internal int HeldArrays => _current.HeldArrays + _other.HeldArrays;

    /// <summary>The row the reader is on, as a view of its row group's columns.</summary>
    public FragmentRowView View => new(this, _current, _row);

    /// <summary>The row the reader is on, made into a row of its own (its record's members an array).</summary>
    public FragmentRow Current => _materialized ??= RowAt(_current, _row);

    /// <summary>
    /// The file (<paramref name="length"/> bytes of its blob from <paramref name="offset"/>), before its first row; it
    /// reads the member columns of <paramref name="members"/> (all when null), and the rows of the identities
    /// (namespace, id) <paramref name="keep"/> keeps (all when null); <paramref name="chunkLength"/>: for a section of a
    /// chunk file, the chunk file's bytes (<see cref="FileSection.ChunkLength"/>).
    /// </summary>
    public static async Task<FragmentFileReader> OpenAsync(BlobClient blob, long offset, long length, MemberSelection? members, IdentityFilter? keep, CancellationToken ct,
        FragmentFileCache? cache = null, ETag? version = null, long chunkLength = 0)
    {
        var stream = await BlobRangeStream.OpenAsync(blob, offset, length, ct, cache, version, chunkLength);
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

    /// <summary>Moves to the next row read; completes at once (no state machine) while the row group holds one.</summary>
    public ValueTask<bool> MoveNextAsync(CancellationToken ct)
    {
        _materialized = null;
        // The values of the group before are let go, so that its decoded columns are not held as long as the current group's.
        if (_otherHeld) _other.Release();
        _otherHeld = false;
        return NextRowInGroup() ? ValueTask.FromResult(true) : NextGroupAsync(ct);
    }

    private bool NextRowInGroup()
    {
        while (++_row < _rows)
            if (_keep is null || _current.Kept[_row]) return true;
        return false;
    }

    private async ValueTask<bool> NextGroupAsync(CancellationToken ct)
    {
        while (++_group < _reader.RowGroupCount)
        {
            await ReadGroupAsync(ct);
            if (NextRowInGroup()) return true;
        }
        return false;
    }

    /// <summary>
    /// A row of its own: it outlives its group, whose packs go back to the pool (<see cref="GroupValues.Release"/>), so
    /// in a packed file its bytes are copied, into one array.
    /// </summary>
    internal FragmentRow RowAt(GroupValues group, int row)
    {
        var memberships = _memberships is null ? null : group.Memberships[row];
        var whole = group.Orders[row] is null ? group.Records[row] : null;
        var members = whole is null ? new Member[MembersAt(group, row)] : [];
        _scratch.AsSpan(0, members.Length).CopyTo(members);
        if (_packed)
        {
            int length = (memberships?.Length ?? 0) + (whole?.Length ?? 0);
            foreach (var member in members) length += member.Value.Length;
            var bytes = new OwnBytes(length);
            if (memberships is { } index) memberships = bytes.Copy(index);
            if (whole is { } json) whole = bytes.Copy(json);
            for (int m = 0; m < members.Length; m++) members[m] = members[m] with { Value = bytes.Copy(members[m].Value) };
        }
        var record = whole is { } text ? StoredRecord.OfWhole(text) : StoredRecord.OfMembers(members);
        return new(group.Namespaces[row]!, group.IdAt(row), group.IngestTimes[row], group.Datasets[row]!, group.Batches[row]!, record, group.Sequences[row], memberships);
    }

    /// <summary>One array that values are copied into one after the other.</summary>
    private sealed class OwnBytes(int length)
    {
        private readonly byte[] _bytes = new byte[length];
        private int _used;

        public ReadOnlyMemory<byte> Copy(ReadOnlyMemory<byte> value)
        {
            value.Span.CopyTo(_bytes.AsSpan(_used));
            var copy = _bytes.AsMemory(_used, value.Length);
            _used += value.Length;
            return copy;
        }
    }

    /// <summary>The members read of a row that is not kept whole, in its record's order, into <see cref="_scratch"/>; returns how many.</summary>
    private int MembersAt(GroupValues group, int row)
    {
        int count = 0;
        foreach (byte index in group.Orders[row]!.Value.Span)
            if (_slotOf[index] is >= 0 and var slot && group.Values[slot][row] is { } value) _scratch[count++] = new Member(Members[index], value);
        return count;
    }

    /// <summary>Writes a row's record as JSON text (as <see cref="StoredRecord.AppendJsonTo"/> of its record as <see cref="RowAt"/> makes it) after what <paramref name="text"/> holds.</summary>
    internal void AppendJsonAt(GroupValues group, int row, ArrayBufferWriter<byte> text, RepeatedMembers? repeated)
    {
        if (group.Orders[row] is null) StoredRecord.AppendWhole(group.Records[row]!.Value.Span, text, repeated);
        else StoredRecord.AppendJson(_scratch.AsSpan(0, MembersAt(group, row)), text, repeated);
    }

    /// <summary>Reads the next row group into the group that is not current, which becomes current when the read keeps any of its rows.</summary>
    private async Task ReadGroupAsync(CancellationToken ct)
    {
        _row = -1;
        _rows = await ReadGroupAsync(_other, ct);
        if (_rows > 0) (_current, _other, _otherHeld) = (_other, _current, true);
    }

    /// <summary>Reads row group <see cref="_group"/> into <paramref name="into"/>; returns its rows (none when the read keeps none of them).</summary>
    private async Task<int> ReadGroupAsync(GroupValues into, CancellationToken ct)
    {
        if ((_keep?.KeepsAnyOf is { } keepsAnyOf && OnlyNamespaceOf(_group) is { } ns && !keepsAnyOf(ns))
            || _keep?.KeepsNoneOf?.Contains(_file, _group) == true)
            return 0;
        var (start, count) = BytesOf(_group);
        await _stream.LoadAsync(start, count, ct);
        using var group = _reader.OpenRowGroupReader(_group);
        int rows = checked((int)group.RowCount);
        into.EnsureCapacity(rows);
        if (_bytes.Length < rows)
            (_bytes, _chars, _levels, _indexes) = (new ReadOnlyMemory<byte>[rows], new ReadOnlyMemory<char>[rows], new int[rows], new int[rows]);
        await ReadFewAsync(group, _namespace, into.Namespaces, rows, ct);
        await ReadIdsAsync(group, into, rows, ct);
        if (_keep is not null)
        {
            bool any = false, all = true;
            bool keepsNamespace = _keep.KeepsAllOf is { } keepsAllOf && OnlyNamespaceOf(_group) is { } only && keepsAllOf(only);
            for (int row = 0; row < rows; row++)
            {
                bool kept = into.Kept[row] = keepsNamespace || _keep.Keeps(into.Namespaces[row]!, into.IdAt(row));
                (any, all) = (any | kept, all & kept);
            }
            if (!any)
            {
                // No row of the group is read: its ids' packs go back.
                into.Release();
                return 0;
            }
            if (all) _keep.KeptWhole?.Add(_file, _group);
        }
        await group.ReadAsync(_ingestTime, into.IngestTimes.AsMemory(0, rows), null, ct);
        await ReadFewAsync(group, _dataset, into.Datasets, rows, ct);
        await ReadFewAsync(group, _batch, into.Batches, rows, ct);
        await ReadBytesAsync(group, _record, into.Records, into, rows, ct);
        if (_order is null) Array.Clear(into.Orders);
        else await ReadBytesAsync(group, _order, into.Orders, into, rows, ct);
        if (_sequence is not null) await group.ReadAsync(_sequence, into.Sequences.AsMemory(0, rows), null, ct);
        if (_memberships is not null) await ReadBytesAsync(group, _memberships, into.Memberships, into, rows, ct);
        bool indexedWhole = _memberships is not null && Array.IndexOf(into.Memberships, null, 0, rows) < 0;
        for (int slot = 0; slot < _read.Length; slot++)
        {
            if (slot == _indexedSlot && indexedWhole) Array.Clear(into.Values[slot]);
            else await ReadBytesAsync(group, _read[slot].Field, into.Values[slot], into, rows, ct);
            if (_leaves[slot] is { } leaves) await ReadLeavesAsync(group, slot, leaves, into, rows, ct);
        }
        return rows;
    }

    /// <summary>
    /// The values of a member kept in its typed leaves: each row that has the member and no text of it in its column
    /// gets its text written back from the leaves, into <see cref="GroupValues.Rebuilt"/>.
    /// </summary>
    private async Task ReadLeavesAsync(ParquetRowGroupReader group, int slot, LeafColumns leaves, GroupValues into, int rows, CancellationToken ct)
    {
        await leaves.ReadAsync(group, _leafFields[slot], rows, (field, strings) => ReadBytesAsync(group, field, strings, into, rows, ct), ct);
        var values = into.Values[slot];
        byte member = (byte)_read[slot].Index;
        for (int row = 0; row < rows; row++)
        {
            if (values[row] is not null || into.Orders[row] is not { } order || (_keep is not null && !into.Kept[row]) || order.Span.IndexOf(member) < 0) continue;
            var text = into.Rebuilt.GetMemory(leaves.Shape.BoundOf(leaves, row));
            int length = leaves.Shape.AppendJson(leaves, row, text.Span);
            into.Rebuilt.Advance(length);
            values[row] = text[..length];
        }
    }

    /// <summary>
    /// A binary column, null for a row without a value: in a packed file, slices of its packs, copied into a pooled array
    /// that <paramref name="holder"/> gives back when it lets go of the group (Parquet.Net decodes each pack into an array
    /// of its own: held while the group is read, those arrays outlived the collections of generation 0 and were copied
    /// by them, where a copy now dies young); else each value as Parquet.Net decodes it (read as <c>byte[]</c>, it
    /// copies every value once more).
    /// </summary>
    private async Task ReadBytesAsync(ParquetRowGroupReader group, DataField field, ReadOnlyMemory<byte>?[] into, GroupValues holder, int rows, CancellationToken ct)
    {
        await group.ReadRawAsync(field, _bytes.AsMemory(0, rows), _levels.AsMemory(0, rows), null, ct);
        if (_packed)
        {
            if (!field.IsNullable) throw new InvalidDataException($"Column {field.Name} of a packed fragment file is not nullable.");
            var levels = _levels.AsSpan(0, rows);
            var packs = _bytes.AsSpan(0, rows - levels.Count(0));
            holder.Hold(packs);
            ValuePacks.Unpack(packs, levels, rows, into, field.Name);
            return;
        }
        for (int row = 0, value = 0; row < rows; row++)
            into[row] = field.IsNullable && _levels[row] == 0 ? (ReadOnlyMemory<byte>?)null : _bytes[value++];
    }

    /// <summary>
    /// The identity ids: UTF-8 in packs, each row's string made only when it is asked for (<see cref="GroupValues.IdAt"/>),
    /// or in a file of an earlier build, strings, encoded for the merge to compare (<see cref="GroupValues.EncodeIds"/>).
    /// </summary>
    private async Task ReadIdsAsync(ParquetRowGroupReader group, GroupValues into, int rows, CancellationToken ct)
    {
        if (FragmentColumns.HoldsTextIds(_id))
        {
            await group.ReadAsync(_id, into.Ids.AsMemory(0, rows), null, ct);
            into.EncodeIds(rows, _id.Name);
            return;
        }
        Array.Clear(into.Ids, 0, rows);
        await ReadBytesAsync(group, _id, into.IdBytes, into, rows, ct);
        if (Array.IndexOf(into.IdBytes, null, 0, rows) >= 0) throw new InvalidDataException($"Column {_id.Name} of a fragment file has a null.");
    }

    /// <summary>
    /// A column of few distinct values (never null): indexes into the file's values of the column, or in a file of an
    /// earlier build, strings, each value's taken from <see cref="_few"/>.
    /// </summary>
    private async Task ReadFewAsync(ParquetRowGroupReader group, DataField field, string?[] into, int rows, CancellationToken ct)
    {
        if (_indexed is not null)
        {
            var values = _indexed[field.Name];
            await group.ReadAsync<int>(field, _indexes.AsMemory(0, rows), null, ct);
            for (int row = 0; row < rows; row++)
                into[row] = (uint)_indexes[row] < (uint)values.Length ? values[_indexes[row]]
                    : throw new InvalidDataException($"Column {field.Name} of a fragment file has an index without a value.");
            return;
        }
        await group.ReadRawAsync(field, _chars.AsMemory(0, rows), _levels.AsMemory(0, rows), null, ct);
        var few = _few.GetAlternateLookup<ReadOnlySpan<char>>();
        for (int row = 0, value = 0; row < rows; row++)
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

    /// <summary>Closes the file. Its groups keep their packs' arrays (left to the collector): the merge may still read views of the last one.</summary>
    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync();
        await _stream.DisposeAsync();
    }
}

/// <summary>The columns of one row group as a <see cref="FragmentFileReader"/> read them, reused from one group to another.</summary>
internal sealed class GroupValues(int memberSlots)
{
    public string?[] Namespaces = [], Datasets = [], Batches = [];
    /// <summary>The identity ids' UTF-8, and their strings as far as they were asked for (<see cref="IdAt"/>).</summary>
    public ReadOnlyMemory<byte>?[] IdBytes = [];
    public string?[] Ids = [];
    public long[] IngestTimes = [], Sequences = [];
    public ReadOnlyMemory<byte>?[] Records = [], Orders = [], Memberships = [];
    /// <summary>The member columns read, by slot.</summary>
    public ReadOnlyMemory<byte>?[][] Values = [.. Enumerable.Range(0, memberSlots).Select(_ => Array.Empty<ReadOnlyMemory<byte>?>())];
    public bool[] Kept = [];
    /// <summary>The texts of the members written back from their typed leaves, which the member columns' values are slices of.</summary>
    public readonly ArrayBufferWriter<byte> Rebuilt = new();

    public void EnsureCapacity(int rows)
    {
        if (Records.Length >= rows) return;
        (Namespaces, Ids, Datasets, Batches, IdBytes) = (new string?[rows], new string?[rows], new string?[rows], new string?[rows], new ReadOnlyMemory<byte>?[rows]);
        (IngestTimes, Sequences, Kept) = (new long[rows], new long[rows], new bool[rows]);
        (Records, Orders, Memberships) = (new ReadOnlyMemory<byte>?[rows], new ReadOnlyMemory<byte>?[rows], new ReadOnlyMemory<byte>?[rows]);
        for (int slot = 0; slot < Values.Length; slot++) Values[slot] = new ReadOnlyMemory<byte>?[rows];
    }

    /// <summary>
    /// The id of a row as a string, made when it is first asked for: most of the rows a read decodes are of identities
    /// it leaves out, whose ids it only compares (as UTF-8, <see cref="Core.Profiles.IdentityKey.CompareIds"/>). A row
    /// takes the string of the row before when their ids are equal (an identity's rows in a file are together).
    /// </summary>
    public string IdAt(int row)
    {
        if (Ids[row] is { } made) return made;
        var id = IdBytes[row]!.Value.Span;
        return Ids[row] = row > 0 && Ids[row - 1] is { } before && id.SequenceEqual(IdBytes[row - 1]!.Value.Span) ? before : Encoding.UTF8.GetString(id);
    }

    /// <summary>The UTF-8 of ids read as strings (a file of an earlier build), into <see cref="_idText"/>.</summary>
    public void EncodeIds(int rows, string column)
    {
        for (int row = 0; row < rows; row++)
        {
            string id = Ids[row] ?? throw new InvalidDataException($"Column {column} of a fragment file has a null.");
            var text = _idText.GetMemory(Encoding.UTF8.GetMaxByteCount(id.Length));
            int length = Encoding.UTF8.GetBytes(id, text.Span);
            _idText.Advance(length);
            IdBytes[row] = text[..length];
        }
    }

    private readonly ArrayBufferWriter<byte> _idText = new();

    /// <summary>
    /// The arrays the group's packs are copied into. A group given back is followed by the next one read, so a few of
    /// each size are kept, and not for long after the reads stop: what the pool keeps is on top of what the next job
    /// (a graph build's tables, say) holds.
    /// </summary>
    private static readonly IdleTrimmedArrayPool<byte> PackArrays = new(maxArrayLength: 1 << 24, maxArraysPerSize: 16, TimeSpan.FromSeconds(3), TimeProvider.System);
    private readonly List<byte[]> _held = [];

    public int HeldArrays => _held.Count;

    /// <summary>Copies a column's packs into one pooled array held by the group, each pack now a slice of it.</summary>
    public void Hold(Span<ReadOnlyMemory<byte>> packs)
    {
        if (packs.IsEmpty) return;
        int bytes = 0;
        foreach (var pack in packs) bytes = checked(bytes + pack.Length);
        var held = PackArrays.Rent(bytes);
        _held.Add(held);
        int at = 0;
        for (int p = 0; p < packs.Length; p++)
        {
            packs[p].Span.CopyTo(held.AsSpan(at));
            packs[p] = held.AsMemory(at, packs[p].Length);
            at += packs[p].Length;
        }
    }

    /// <summary>
    /// Lets go of the decoded columns the values are slices of, and gives the arrays of its packs back to the pool: no
    /// view of the group's rows is read after it (<see cref="FragmentRowView"/>), and a row made of its own copied its
    /// bytes.
    /// </summary>
    public void Release()
    {
        Array.Clear(Records);
        Array.Clear(Orders);
        Array.Clear(Memberships);
        foreach (var values in Values) Array.Clear(values);
        Array.Clear(IdBytes);
        Array.Clear(Ids);
        foreach (var held in _held) PackArrays.Return(held);
        _held.Clear();
        Rebuilt.ResetWrittenCount();
        _idText.ResetWrittenCount();
    }
}
