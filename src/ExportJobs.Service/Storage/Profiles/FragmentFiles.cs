using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using Azure.Storage.Blobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// One fragment as a row of a fragment file: identity, provenance, and the record's JSON as UTF-8 (parsed as it is,
/// never decoded to a string) — an array of its own when read, a slice of an ingestion's chunk buffer when written.
/// </summary>
internal sealed record FragmentRow(string IdentityNamespace, string IdentityId, long IngestTimeMs, string DatasetId, string BatchId, ReadOnlyMemory<byte> Record)
{
    public string Key { get; } = IdentityKey.Of(IdentityNamespace, IdentityId);

    /// <summary>The fragment, its record parsed into <paramref name="document"/> (pooled: the caller disposes it when done with the fragment).</summary>
    public ProfileFragment ToFragment(out JsonDocument document)
    {
        document = JsonDocument.Parse(Record);
        return new(new Identity(IdentityNamespace, IdentityId), IngestTimeMs, DatasetId, BatchId, document.RootElement);
    }
}

/// <summary>
/// The columns of a fragment file, and its row groups: a shard is read holding one of each of its runs (few, as
/// compaction bounds them), and a file's footer describes each of its groups (too small, and the footers grow large).
/// </summary>
internal static class FragmentColumns
{
    /// <summary>
    /// 250 rows: a running shard holds one decoded group of each of its runs, so memory grows with this (at 1,000,
    /// peak RSS at N = 1,000,000 was 40 MB higher); requests and footers grow as it shrinks.
    /// </summary>
    public const int RowGroupSize = 250;

    public static readonly DataField Namespace = new(nameof(FragmentRow.IdentityNamespace), typeof(string));
    public static readonly DataField Id = new(nameof(FragmentRow.IdentityId), typeof(string));
    public static readonly DataField IngestTime = new(nameof(FragmentRow.IngestTimeMs), typeof(long));
    public static readonly DataField Dataset = new(nameof(FragmentRow.DatasetId), typeof(string));
    public static readonly DataField Batch = new(nameof(FragmentRow.BatchId), typeof(string));
    public static readonly DataField Record = new(nameof(FragmentRow.Record), typeof(byte[]));
    public static readonly ParquetSchema Schema = new(Namespace, Id, IngestTime, Dataset, Batch, Record);
}

/// <summary>Writes fragment rows, already in file order, row group by row group.</summary>
internal sealed class FragmentFileWriter : IAsyncDisposable
{
    private readonly ParquetWriter _writer;
    private readonly List<FragmentRow> _rows = new(FragmentColumns.RowGroupSize);

    private FragmentFileWriter(ParquetWriter writer) => _writer = writer;

    public static async Task<FragmentFileWriter> CreateAsync(Stream stream, CancellationToken ct) =>
        new(await ParquetWriter.CreateAsync(FragmentColumns.Schema, stream, ParquetSettings.Options, cancellationToken: ct));

    public async Task AddAsync(FragmentRow row, CancellationToken ct)
    {
        _rows.Add(row);
        if (_rows.Count == FragmentColumns.RowGroupSize) await FlushAsync(ct);
    }

    private async Task FlushAsync(CancellationToken ct)
    {
        using var group = _writer.CreateRowGroup();
        await group.WriteAsync(FragmentColumns.Namespace, _rows.Select(r => r.IdentityNamespace).ToList());
        await group.WriteAsync(FragmentColumns.Id, _rows.Select(r => r.IdentityId).ToList());
        await group.WriteAsync<long>(FragmentColumns.IngestTime, _rows.Select(r => r.IngestTimeMs).ToArray().AsMemory(), null, null, ct);
        await group.WriteAsync(FragmentColumns.Dataset, _rows.Select(r => r.DatasetId).ToList());
        await group.WriteAsync(FragmentColumns.Batch, _rows.Select(r => r.BatchId).ToList());
        await group.WriteAsync(FragmentColumns.Record, _rows.Select(r => WholeArray(r.Record)).ToList());
        group.CompleteValidate();
        _rows.Clear();
    }

    /// <summary>The record as the array Parquet.Net writes: the array itself when the record is a whole one (rows read back, compaction), a copy of a slice.</summary>
    private static byte[] WholeArray(ReadOnlyMemory<byte> record) =>
        MemoryMarshal.TryGetArray(record, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : record.ToArray();

    public async ValueTask DisposeAsync()
    {
        if (_rows.Count > 0) await FlushAsync(default);
        await _writer.DisposeAsync();
    }
}

/// <summary>
/// Reads one fragment file row group by row group, column by column with one reader, reusing its column arrays from
/// one group to the next.
/// </summary>
internal sealed class FragmentFileReader : IAsyncDisposable
{
    private readonly BlobRangeStream _stream;
    private readonly ParquetReader _reader;
    private readonly DataField _namespace, _id, _ingestTime, _dataset, _batch, _record;
    private int _group = -1;
    private int _rows;
    private int _row = -1;
    private string?[] _namespaces = [], _ids = [], _datasets = [], _batches = [];
    private byte[]?[] _records = [];
    private long[] _ingestTimes = [];

    private FragmentFileReader(BlobRangeStream stream, ParquetReader reader)
    {
        _stream = stream;
        _reader = reader;
        var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
        (_namespace, _id, _ingestTime) = (fields[FragmentColumns.Namespace.Name], fields[FragmentColumns.Id.Name], fields[FragmentColumns.IngestTime.Name]);
        (_dataset, _batch, _record) = (fields[FragmentColumns.Dataset.Name], fields[FragmentColumns.Batch.Name], fields[FragmentColumns.Record.Name]);
    }

    public FragmentRow Current { get; private set; } = null!;

    /// <summary>The file (of <paramref name="length"/> bytes), before its first row.</summary>
    public static async Task<FragmentFileReader> OpenAsync(BlobClient blob, long length, CancellationToken ct)
    {
        var stream = await BlobRangeStream.OpenAsync(blob, length, ct);
        try
        {
            return new FragmentFileReader(stream, await ParquetReader.CreateAsync(stream, ParquetSettings.Options, leaveStreamOpen: true, cancellationToken: ct));
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    public async Task<bool> MoveNextAsync(CancellationToken ct)
    {
        while (++_row >= _rows)
        {
            if (++_group >= _reader.RowGroupCount) return false;
            await ReadGroupAsync(ct);
            _row = -1;
        }
        Current = new FragmentRow(_namespaces[_row]!, _ids[_row]!, _ingestTimes[_row], _datasets[_row]!, _batches[_row]!, _records[_row]!);
        _records[_row] = null;
        return true;
    }

    private async Task ReadGroupAsync(CancellationToken ct)
    {
        var (start, count) = BytesOf(_group);
        await _stream.LoadAsync(start, count, ct);
        var group = _reader.OpenRowGroupReader(_group);
        _rows = checked((int)group.RowCount);
        if (_records.Length < _rows)
            (_namespaces, _ids, _datasets, _batches, _records, _ingestTimes) =
                (new string?[_rows], new string?[_rows], new string?[_rows], new string?[_rows], new byte[]?[_rows], new long[_rows]);
        await group.ReadAsync(_namespace, _namespaces.AsMemory(0, _rows), null, ct);
        await group.ReadAsync(_id, _ids.AsMemory(0, _rows), null, ct);
        await group.ReadAsync(_ingestTime, _ingestTimes.AsMemory(0, _rows), null, ct);
        await group.ReadAsync(_dataset, _datasets.AsMemory(0, _rows), null, ct);
        await group.ReadAsync(_batch, _batches.AsMemory(0, _rows), null, ct);
        await group.ReadAsync(_record, _records.AsMemory(0, _rows), null, ct);
    }

    /// <summary>Where a row group's column chunks lie in the file.</summary>
    private (long Start, int Count) BytesOf(int group)
    {
        long start = long.MaxValue, end = 0;
        foreach (var column in _reader.Metadata!.RowGroups[group].Columns)
        {
            var chunk = column.MetaData!;
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
/// Reads a run of fragment files — one ingested file, or the parts a compaction wrote, whose identity ranges follow
/// each other — as one stream of rows, holding one part open at a time (its footer, a window of its bytes, one row
/// group), and none once the run is read. <see cref="Index"/> is the run's place among the runs read with it (older
/// runs first).
/// </summary>
internal sealed class FragmentCursor : IAsyncDisposable
{
    private readonly Queue<(BlobClient Blob, long Length)> _parts;
    private FragmentFileReader? _file;

    private FragmentCursor(IEnumerable<(BlobClient Blob, long Length)> parts, int index)
    {
        _parts = new(parts);
        Index = index;
    }

    public int Index { get; }
    public FragmentRow Current { get; private set; } = null!;

    /// <summary>The run of files (in part order, each with its length) positioned on its first row; null when it has none.</summary>
    public static async Task<FragmentCursor?> OpenAsync(IEnumerable<(BlobClient Blob, long Length)> parts, int index, CancellationToken ct)
    {
        var cursor = new FragmentCursor(parts, index);
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
            _file = await FragmentFileReader.OpenAsync(next.Blob, next.Length, ct);
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
        var queue = new PriorityQueue<FragmentCursor, (string Key, int Run)>(KeyThenRun.Instance);
        foreach (var run in runs) queue.Enqueue(run, (run.Current.Key, run.Index));
        while (queue.TryDequeue(out var run, out _))
        {
            yield return run;
            if (await run.MoveNextAsync(ct)) queue.Enqueue(run, (run.Current.Key, run.Index));
        }
    }

    private sealed class KeyThenRun : IComparer<(string Key, int Run)>
    {
        public static readonly KeyThenRun Instance = new();

        public int Compare((string Key, int Run) x, (string Key, int Run) y)
        {
            int byKey = string.CompareOrdinal(x.Key, y.Key);
            return byKey != 0 ? byKey : x.Run.CompareTo(y.Run);
        }
    }
}
