using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using Microsoft.Extensions.Options;
using Parquet;
using Parquet.Schema;
using Parquet.Serialization;

namespace ExportJobs.Service.Storage;

/// <summary>Profile records, or experience events: the two kinds of fragment the store keeps, each in its container.</summary>
public enum FragmentKind { Profile, Event }

/// <summary>
/// The profile store: immutable Parquet fragment files, one per shard per ingested batch, at
/// <c>{org}/{sandbox}/shard-{k}/{ingestTimeMs}-{batchId}.parquet</c> in the container of their kind. Each file is sorted
/// by identity, and the ingest time leads its name, so a shard reads as one stream ordered by identity — a k-way merge
/// of its files, one row group of each in memory — with each identity's fragments oldest first.
/// </summary>
public sealed class ProfileStore(StorageClients clients, IOptions<ExportStorageOptions> options)
{
    // Small row groups and read buffers: a shard is read holding one row group and one buffer of each of its files
    // (measured at 1,000,000 profiles: 10,000-row groups peaked at 7.4 GB, 500-row groups at 3.4 GB, and the export ran faster).
    private const int RowGroupSize = 100;
    private const int ReadBufferBytes = 64 * 1024;
    private const string ShardFolder = "shard-";

    public int ShardCount => options.Value.ShardCount;

    private BlobContainerClient Container(FragmentKind kind) => kind == FragmentKind.Profile ? clients.Profiles : clients.Events;

    /// <summary>
    /// Writes the records of one batch (each a JSON object's text, as ingested), each to the shard of its primary
    /// identity, sorted by identity.
    /// </summary>
    public async Task WriteBatchAsync(FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
        IEnumerable<(Identity Identity, string Json)> records, CancellationToken ct)
    {
        var byShard = new SortedDictionary<int, List<FragmentRow>>();
        foreach (var (identity, json) in records)
        {
            int shard = ShardRouter.ShardOf(identity, ShardCount);
            if (!byShard.TryGetValue(shard, out var rows)) byShard[shard] = rows = [];
            rows.Add(Row(identity, ingestTimeMs, datasetId, batchId, json));
        }
        // A stable sort: fragments of one identity keep their order in the batch.
        foreach (var (shard, rows) in byShard)
            await WriteFileAsync(kind, tenant, shard, batchId, ingestTimeMs, rows.OrderBy(r => IdentityKey.Of(r.IdentityNamespace, r.IdentityId), StringComparer.Ordinal).ToList(), ct);
    }

    /// <summary>
    /// Writes the fragments of one shard that a job computed (segment memberships), already in identity order, as one
    /// file named by <paramref name="batchId"/>: written again, it is replaced; with no fragment, there is no file.
    /// </summary>
    public async Task WriteShardAsync(FragmentKind kind, Tenant tenant, int shard, string datasetId, string batchId, long ingestTimeMs,
        IReadOnlyList<(Identity Identity, JsonObject Record)> records, CancellationToken ct)
    {
        if (records.Count == 0)
        {
            await Container(kind).DeleteBlobIfExistsAsync(FileName(tenant, shard, ingestTimeMs, batchId), cancellationToken: ct);
            return;
        }
        await WriteFileAsync(kind, tenant, shard, batchId, ingestTimeMs,
            records.Select(r => Row(r.Identity, ingestTimeMs, datasetId, batchId, r.Record.ToJsonString())).ToList(), ct);
    }

    private static FragmentRow Row(Identity identity, long ingestTimeMs, string datasetId, string batchId, string json) => new()
    {
        IdentityNamespace = identity.Namespace,
        IdentityId = identity.Id,
        IngestTimeMs = ingestTimeMs,
        DatasetId = datasetId,
        BatchId = batchId,
        Record = json,
    };

    private async Task WriteFileAsync(FragmentKind kind, Tenant tenant, int shard, string batchId, long ingestTimeMs, List<FragmentRow> sorted, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await ParquetSerializer.SerializeAsync(sorted, buffer, new ParquetOptions { RowGroupSize = RowGroupSize }, cancellationToken: ct);
        buffer.Position = 0;
        await Container(kind).GetBlobClient(FileName(tenant, shard, ingestTimeMs, batchId)).UploadAsync(buffer, overwrite: true, ct);
    }

    private static string FileName(Tenant tenant, int shard, long ingestTimeMs, string batchId) =>
        $"{ShardPrefix(tenant, shard)}{ingestTimeMs.ToString("D15", CultureInfo.InvariantCulture)}{BatchSuffix(batchId)}";

    /// <summary>How every file of a batch ends, whatever its shard and ingest time.</summary>
    private static string BatchSuffix(string batchId) => $"-{batchId}.parquet";

    /// <summary>Removes the files of one batch from every shard of the tenant; returns how many there were.</summary>
    public async Task<int> DeleteBatchAsync(FragmentKind kind, Tenant tenant, string batchId, CancellationToken ct)
    {
        int removed = 0;
        string suffix = BatchSuffix(batchId);
        var container = Container(kind);
        await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = tenant.BlobPrefix + "/" }, ct))
            if (blob.Name.EndsWith(suffix, StringComparison.Ordinal) && (await container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: ct)).Value)
                removed++;
        return removed;
    }

    /// <summary>The shards of a tenant that hold any fragment of this kind, in order.</summary>
    public async Task<IReadOnlyList<int>> ListShardsAsync(FragmentKind kind, Tenant tenant, CancellationToken ct)
    {
        var shards = new List<int>();
        string prefix = tenant.BlobPrefix + "/";
        await foreach (var item in Container(kind).GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Prefix = prefix, Delimiter = "/" }, ct))
        {
            if (!item.IsPrefix) continue;
            string folder = item.Prefix[prefix.Length..].TrimEnd('/');
            if (folder.StartsWith(ShardFolder, StringComparison.Ordinal) &&
                int.TryParse(folder.AsSpan(ShardFolder.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int shard))
                shards.Add(shard);
        }
        shards.Sort();
        return shards;
    }

    /// <summary>
    /// The fragments of one shard, grouped by identity in identity-key order; within a group, oldest first. The files of
    /// <paramref name="skipBatchId"/> are left out (a job reads its shard without what it wrote there itself).
    /// </summary>
    public async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadShardAsync(
        FragmentKind kind, Tenant tenant, int shard, [EnumeratorCancellation] CancellationToken ct, string? skipBatchId = null)
    {
        var container = Container(kind);
        var files = new List<FileCursor>();
        string? skipSuffix = skipBatchId is null ? null : BatchSuffix(skipBatchId);
        try
        {
            await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = ShardPrefix(tenant, shard) }, ct))
            {
                if (skipSuffix is not null && blob.Name.EndsWith(skipSuffix, StringComparison.Ordinal)) continue;
                var file = await FileCursor.OpenAsync(container.GetBlobClient(blob.Name), files.Count, ct);
                if (file is not null) files.Add(file);
            }

            // Ordered by identity key, then by file (files are listed oldest first).
            var queue = new PriorityQueue<FileCursor, (string Key, int File)>(StringKeyThenFile.Instance);
            foreach (var file in files) queue.Enqueue(file, (file.Key, file.Index));
            while (queue.Count > 0)
            {
                string key = queue.Peek().Key;
                var group = new List<ProfileFragment>();
                while (queue.Count > 0 && queue.Peek().Key == key)
                {
                    var file = queue.Dequeue();
                    while (file.Key == key)
                    {
                        group.Add(file.Current);
                        if (!await file.MoveNextAsync(ct)) break;
                    }
                    if (!file.Done) queue.Enqueue(file, (file.Key, file.Index));
                }
                yield return (group[0].Identity, group);
            }
        }
        finally
        {
            foreach (var file in files) await file.DisposeAsync();
        }
    }

    private static string ShardPrefix(Tenant tenant, int shard) =>
        $"{tenant.BlobPrefix}/{ShardFolder}{shard.ToString("D4", CultureInfo.InvariantCulture)}/";

    private sealed class StringKeyThenFile : IComparer<(string Key, int File)>
    {
        public static readonly StringKeyThenFile Instance = new();

        public int Compare((string Key, int File) x, (string Key, int File) y)
        {
            int byKey = string.CompareOrdinal(x.Key, y.Key);
            return byKey != 0 ? byKey : x.File.CompareTo(y.File);
        }
    }

    /// <summary>
    /// Reads one fragment file row group by row group, column by column with one reader (records parsed as they are
    /// reached), reusing its column arrays from one group to the next.
    /// </summary>
    private sealed class FileCursor : IAsyncDisposable
    {
        private readonly Stream _stream;
        private readonly ParquetReader _reader;
        private readonly DataField _namespace, _id, _ingestTime, _dataset, _batch, _record;
        private int _group = -1;
        private int _rows;
        private int _row = -1;
        private string?[] _namespaces = [], _ids = [], _datasets = [], _batches = [], _records = [];
        private long[] _ingestTimes = [];

        private FileCursor(Stream stream, ParquetReader reader, int index)
        {
            _stream = stream;
            _reader = reader;
            Index = index;
            var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name, StringComparer.Ordinal);
            (_namespace, _id, _ingestTime) = (fields[nameof(FragmentRow.IdentityNamespace)], fields[nameof(FragmentRow.IdentityId)], fields[nameof(FragmentRow.IngestTimeMs)]);
            (_dataset, _batch, _record) = (fields[nameof(FragmentRow.DatasetId)], fields[nameof(FragmentRow.BatchId)], fields[nameof(FragmentRow.Record)]);
        }

        public int Index { get; }
        public bool Done { get; private set; }
        public ProfileFragment Current { get; private set; } = null!;
        public string Key { get; private set; } = "";

        public static async Task<FileCursor?> OpenAsync(BlobClient blob, int index, CancellationToken ct)
        {
            // A small read buffer: a shard holds one open file per ingested batch, each with its buffer.
            var stream = await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = ReadBufferBytes }, ct);
            var reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: false, cancellationToken: ct);
            var cursor = new FileCursor(stream, reader, index);
            if (await cursor.MoveNextAsync(ct)) return cursor;
            await cursor.DisposeAsync();
            return null;
        }

        public async Task<bool> MoveNextAsync(CancellationToken ct)
        {
            while (++_row >= _rows)
            {
                if (++_group >= _reader.RowGroupCount)
                {
                    Done = true;
                    return false;
                }
                await ReadGroupAsync(ct);
                _row = -1;
            }
            var identity = new Identity(_namespaces[_row]!, _ids[_row]!);
            Key = IdentityKey.Of(identity);
            Current = new ProfileFragment(identity, _ingestTimes[_row], _datasets[_row]!, _batches[_row]!, (JsonObject)JsonNode.Parse(_records[_row]!)!);
            _records[_row] = null;
            return true;
        }

        private async Task ReadGroupAsync(CancellationToken ct)
        {
            var group = _reader.OpenRowGroupReader(_group);
            _rows = checked((int)group.RowCount);
            if (_records.Length < _rows)
                (_namespaces, _ids, _datasets, _batches, _ingestTimes, _records) =
                    (new string?[_rows], new string?[_rows], new string?[_rows], new string?[_rows], new long[_rows], new string?[_rows]);
            await group.ReadAsync(_namespace, _namespaces.AsMemory(0, _rows), null, ct);
            await group.ReadAsync(_id, _ids.AsMemory(0, _rows), null, ct);
            await group.ReadAsync(_ingestTime, _ingestTimes.AsMemory(0, _rows), null, ct);
            await group.ReadAsync(_dataset, _datasets.AsMemory(0, _rows), null, ct);
            await group.ReadAsync(_batch, _batches.AsMemory(0, _rows), null, ct);
            await group.ReadAsync(_record, _records.AsMemory(0, _rows), null, ct);
        }

        public async ValueTask DisposeAsync()
        {
            await _reader.DisposeAsync();
            await _stream.DisposeAsync();
        }
    }

    /// <summary>One fragment as a Parquet row: identity, provenance, and the record's JSON.</summary>
    public sealed class FragmentRow
    {
        public string IdentityNamespace { get; set; } = "";
        public string IdentityId { get; set; } = "";
        public long IngestTimeMs { get; set; }
        public string DatasetId { get; set; } = "";
        public string BatchId { get; set; } = "";
        public string Record { get; set; } = "";
    }
}
