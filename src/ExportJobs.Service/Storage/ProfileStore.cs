using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Storage;

/// <summary>Profile records, or experience events: the two kinds of fragment the store keeps, each in its container.</summary>
public enum FragmentKind { Profile, Event }

/// <summary>Who compacts a shard: an export about to read it, or the background compaction that follows ingestion.</summary>
public enum CompactionTrigger { BeforeRead, Background }

/// <summary>What a compaction of one shard did: how many files it merged, and whether it left the shard for later.</summary>
public readonly record struct ShardCompaction(int Merged, bool Deferred);

/// <summary>
/// The profile store: immutable Parquet fragment files, one per shard per ingested batch, at
/// <c>{org}/{sandbox}/shard-{k}/{ingestTimeMs}-{batchId}.parquet</c> in the container of their kind. Each file is sorted
/// by identity, and the ingest time leads its name, so a shard reads as one stream ordered by identity — a k-way merge
/// of its files, one row group of each in memory — with each identity's fragments oldest first. So that the files a
/// shard is read from stay few whatever the data, <see cref="CompactShardAsync"/> merges the smallest into compacted
/// files; a compacted file names the files it covers in its metadata, and reads leave covered files out.
/// </summary>
public sealed class ProfileStore(StorageClients clients, IOptions<ExportStorageOptions> options, TimeProvider time)
{
    private const string ShardFolder = "shard-";
    private const string CoversKey = "covers";
    private const string CompactedBatchPrefix = "compacted";
    /// <summary>Files merged into one compacted file at once (each held open, one row group in memory, while merging).</summary>
    private const int CompactionFanIn = 8;
    /// <summary>How long covered files stay after their compacted file is written: reads that listed them before go on.</summary>
    private static readonly TimeSpan CoveredGrace = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan CompactionLease = TimeSpan.FromSeconds(60);
    /// <summary>How long a read waits for another caller compacting its shard (each merge renews the lease), and how often it asks.</summary>
    private static readonly TimeSpan LeaseWait = TimeSpan.FromMinutes(3), LeasePoll = TimeSpan.FromMilliseconds(250);
    /// <summary>How many times its bound a shard's files may number before background compaction stops waiting for a quiet period.</summary>
    private const int BackgroundBacklog = 16;

    /// <summary>Batches whose files are never compacted, as a job writes, skips and deletes them by batch (segment memberships).</summary>
    public const string KeptApartBatchPrefix = "segmentation";

    public int ShardCount => options.Value.ShardCount;

    private BlobContainerClient Container(FragmentKind kind) => kind == FragmentKind.Profile ? clients.Profiles : clients.Events;

    /// <summary>
    /// Writes the records of one batch (each a JSON object's UTF-8 text, as ingested), each to the shard of its primary
    /// identity, sorted by identity.
    /// </summary>
    public async Task WriteBatchAsync(FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
        IEnumerable<(Identity Identity, byte[] Json)> records, CancellationToken ct)
    {
        var byShard = new SortedDictionary<int, List<FragmentRow>>();
        foreach (var (identity, json) in records)
        {
            int shard = ShardRouter.ShardOf(identity, ShardCount);
            if (!byShard.TryGetValue(shard, out var rows)) byShard[shard] = rows = [];
            rows.Add(new FragmentRow(identity.Namespace, identity.Id, ingestTimeMs, datasetId, batchId, json));
        }
        // A stable sort: fragments of one identity keep their order in the batch.
        foreach (var (shard, rows) in byShard)
            await WriteFileAsync(kind, FileName(tenant, shard, ingestTimeMs, batchId), rows.OrderBy(r => r.Key, StringComparer.Ordinal), ct);
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
        await WriteFileAsync(kind, FileName(tenant, shard, ingestTimeMs, batchId),
            records.Select(r => new FragmentRow(r.Identity.Namespace, r.Identity.Id, ingestTimeMs, datasetId, batchId, JsonSerializer.SerializeToUtf8Bytes(r.Record))), ct);
    }

    private async Task WriteFileAsync(FragmentKind kind, string name, IEnumerable<FragmentRow> sorted, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await using (var writer = await FragmentFileWriter.CreateAsync(buffer, ct))
            foreach (var row in sorted) await writer.AddAsync(row, ct);
        buffer.Position = 0;
        await Container(kind).GetBlobClient(name).UploadAsync(buffer, overwrite: true, ct);
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
    /// The fragments of one shard, grouped by identity in identity-key order; within a group, oldest first (see
    /// <see cref="OldestFirst"/>). A group's records are valid until the next group is asked for (their documents are
    /// pooled). The files of <paramref name="skipBatchId"/> are left out (a job reads its shard without what it wrote
    /// there itself), and so are the files a compacted file covers.
    /// </summary>
    public async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadShardAsync(
        FragmentKind kind, Tenant tenant, int shard, [EnumeratorCancellation] CancellationToken ct, string? skipBatchId = null)
    {
        string? skipSuffix = skipBatchId is null ? null : BatchSuffix(skipBatchId);
        var (live, _) = await ListFilesAsync(kind, tenant, shard, ct);
        var files = await OpenAsync(kind, live.Where(f => skipSuffix is null || !f.Name.EndsWith(skipSuffix, StringComparison.Ordinal)), ct);
        var documents = new List<JsonDocument>();
        try
        {
            List<ProfileFragment>? group = null;
            string? key = null;
            await foreach (var file in FragmentCursor.MergeAsync(files, ct))
            {
                if (group is not null && file.Current.Key != key)
                {
                    yield return (group[0].Identity, OldestFirst(group));
                    Release(documents);
                    group = null;
                }
                if (group is null) (group, key) = ([], file.Current.Key);
                group.Add(file.Current.ToFragment(out var document));
                documents.Add(document);
            }
            if (group is not null) yield return (group[0].Identity, OldestFirst(group));
        }
        finally
        {
            Release(documents);
            foreach (var file in files) await file.DisposeAsync();
        }
    }

    private static void Release(List<JsonDocument> documents)
    {
        foreach (var document in documents) document.Dispose();
        documents.Clear();
    }

    /// <summary>
    /// An identity's fragments by ingest time, then batch id, each batch's in its order: the order of its files' names,
    /// whichever files (ingested or compacted) hold them.
    /// </summary>
    private static List<ProfileFragment> OldestFirst(List<ProfileFragment> group)
    {
        // An insertion sort, in place: stable (fragments of one batch keep their order), and a group holds a few.
        for (int i = 1; i < group.Count; i++)
        {
            var fragment = group[i];
            int j = i - 1;
            for (; j >= 0 && Compare(group[j], fragment) > 0; j--) group[j + 1] = group[j];
            group[j + 1] = fragment;
        }
        return group;

        static int Compare(ProfileFragment a, ProfileFragment b) =>
            a.IngestTimeMs != b.IngestTimeMs ? a.IngestTimeMs.CompareTo(b.IngestTimeMs) : string.CompareOrdinal(a.BatchId, b.BatchId);
    }

    /// <summary>One file of a shard: its name, size, when it was written, and the files it covers (a compacted file).</summary>
    private sealed record ShardFile(string Name, long Size, DateTimeOffset Written, IReadOnlyList<string> Covers)
    {
        public bool KeptApart => Name.Contains("-" + KeptApartBatchPrefix, StringComparison.Ordinal);
    }

    /// <summary>The files of a shard in name order (oldest first): those read, and those a compacted file covers.</summary>
    private async Task<(List<ShardFile> Live, List<ShardFile> Covered)> ListFilesAsync(FragmentKind kind, Tenant tenant, int shard, CancellationToken ct)
    {
        string prefix = ShardPrefix(tenant, shard);
        var all = new List<ShardFile>();
        await foreach (var blob in Container(kind).GetBlobsAsync(new GetBlobsOptions { Prefix = prefix, Traits = BlobTraits.Metadata }, ct))
            all.Add(new ShardFile(blob.Name, blob.Properties.ContentLength ?? 0, blob.Properties.LastModified ?? DateTimeOffset.MinValue,
                blob.Metadata.TryGetValue(CoversKey, out string? covers) ? covers.Split(',').Select(n => prefix + n).ToList() : []));
        var covered = all.SelectMany(f => f.Covers).ToHashSet(StringComparer.Ordinal);
        return (all.Where(f => !covered.Contains(f.Name)).ToList(), all.Where(f => covered.Contains(f.Name)).ToList());
    }

    /// <summary>How many files a read of the shard opens (compaction keeps it at most <see cref="ExportStorageOptions.MaxShardFiles"/>, segment memberships aside).</summary>
    public async Task<int> CountLiveFilesAsync(FragmentKind kind, Tenant tenant, int shard, CancellationToken ct) =>
        (await ListFilesAsync(kind, tenant, shard, ct)).Live.Count;

    /// <summary>Opens the files, each positioned on its first row (files without rows are left out), indexed in the order given.</summary>
    private async Task<List<FragmentCursor>> OpenAsync(FragmentKind kind, IEnumerable<ShardFile> files, CancellationToken ct)
    {
        var cursors = new List<FragmentCursor>();
        try
        {
            foreach (var file in files)
                if (await FragmentCursor.OpenAsync(Container(kind).GetBlobClient(file.Name), file.Size, cursors.Count, ct) is { } cursor)
                    cursors.Add(cursor);
            return cursors;
        }
        catch
        {
            foreach (var cursor in cursors) await cursor.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Bounds the files a shard is read from: while it has more than <see cref="ExportStorageOptions.MaxShardFiles"/>,
    /// its smallest ingested files are merged, <see cref="CompactionFanIn"/> at a time, into a compacted file named by
    /// the newest ingest time it holds; its rows keep the order a read of its files gives. Covered files are deleted once
    /// covered for longer than <see cref="CoveredGrace"/>. One caller at a time per shard holds the shard's lease.
    /// Before a read, a caller that finds the lease held waits for it (up to <see cref="LeaseWait"/>, then reads the
    /// files as they are). In the background, the shard is left for later (<see cref="ShardCompaction.Deferred"/>) when
    /// the lease is held, or while files are still arriving: one was written within the quiet period
    /// (<see cref="ExportStorageOptions.CompactionQuietSeconds"/>), unless the shard has fallen
    /// <see cref="BackgroundBacklog"/> times behind its bound.
    /// </summary>
    public async Task<ShardCompaction> CompactShardAsync(FragmentKind kind, Tenant tenant, int shard, CompactionTrigger trigger, CancellationToken ct)
    {
        var (live, covered) = await ListFilesAsync(kind, tenant, shard, ct);
        int max = options.Value.MaxShardFiles;
        if (live.Count <= max && covered.Count == 0) return default;
        if (trigger == CompactionTrigger.Background && live.Count > max && live.Count <= max * BackgroundBacklog &&
            time.GetUtcNow() - live.Max(f => f.Written) < TimeSpan.FromSeconds(options.Value.CompactionQuietSeconds))
            return new ShardCompaction(0, Deferred: true);

        var container = Container(kind);
        var lockBlob = container.GetBlobClient(ShardPrefix(tenant, shard).TrimEnd('/') + ".lock");
        try
        {
            await lockBlob.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        var lease = lockBlob.GetBlobLeaseClient();
        if (!await AcquireAsync(lease, wait: trigger == CompactionTrigger.BeforeRead, ct)) return new ShardCompaction(0, Deferred: true);
        try
        {
            (live, covered) = await ListFilesAsync(kind, tenant, shard, ct);
            var now = time.GetUtcNow();
            var coveredSince = live.Concat(covered).SelectMany(f => f.Covers.Select(name => (name, f.Written)))
                .GroupBy(c => c.name).ToDictionary(g => g.Key, g => g.Min(c => c.Written), StringComparer.Ordinal);
            foreach (var file in covered.Where(f => now - coveredSince[f.Name] > CoveredGrace))
                await container.DeleteBlobIfExistsAsync(file.Name, cancellationToken: ct);

            int merged = 0, count = live.Count;
            var candidates = live.Where(f => !f.KeptApart).OrderBy(f => f.Size).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();
            while (count > max && candidates.Count >= 2)
            {
                var group = candidates.Take(CompactionFanIn).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
                candidates.RemoveRange(0, group.Count);
                var compacted = await MergeAsync(kind, tenant, shard, group, ct);
                await lease.RenewAsync(cancellationToken: ct);
                candidates.Add(compacted);
                candidates.Sort((a, b) => a.Size != b.Size ? a.Size.CompareTo(b.Size) : string.CompareOrdinal(a.Name, b.Name));
                count -= group.Count - 1;
                merged += group.Count;
            }
            return new ShardCompaction(merged, Deferred: false);
        }
        finally
        {
            try
            {
                await lease.ReleaseAsync(cancellationToken: CancellationToken.None);
            }
            catch (RequestFailedException) { } // The lease ran out: there is nothing to release.
        }
    }

    /// <summary>Takes the shard's lease; with <paramref name="wait"/>, polls while another caller holds it, up to <see cref="LeaseWait"/>.</summary>
    private static async Task<bool> AcquireAsync(BlobLeaseClient lease, bool wait, CancellationToken ct)
    {
        // Wall-clock time, whatever the store's clock: the lease runs out on the storage service's.
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await lease.AcquireAsync(CompactionLease, cancellationToken: ct);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                if (!wait || waited.Elapsed > LeaseWait) return false;
                await Task.Delay(LeasePoll, ct);
            }
        }
    }

    /// <summary>Merges the files (in name order) into one compacted file that covers them; returns it.</summary>
    private async Task<ShardFile> MergeAsync(FragmentKind kind, Tenant tenant, int shard, List<ShardFile> group, CancellationToken ct)
    {
        string prefix = ShardPrefix(tenant, shard);
        long newest = group.Max(f => long.Parse(f.Name.AsSpan(prefix.Length, 15), NumberStyles.None, CultureInfo.InvariantCulture));
        string name = FileName(tenant, shard, newest, CompactedBatchPrefix + Guid.NewGuid().ToString("N"));
        var covers = group.Select(f => f.Name[prefix.Length..]).ToList();

        // Through a local file: a compacted file can be larger than a shard's share of memory.
        string path = Path.Combine(Path.GetTempPath(), $"exportjobs-{Guid.NewGuid():N}.parquet");
        var files = await OpenAsync(kind, group, ct);
        try
        {
            await using (var output = File.Create(path))
            await using (var writer = await FragmentFileWriter.CreateAsync(output, ct))
                await foreach (var file in FragmentCursor.MergeAsync(files, ct))
                    await writer.AddAsync(file.Current, ct);
            var blob = Container(kind).GetBlobClient(name);
            await blob.UploadAsync(path, new BlobUploadOptions { Metadata = new Dictionary<string, string> { [CoversKey] = string.Join(',', covers) } }, ct);
            var written = (await blob.GetPropertiesAsync(cancellationToken: ct)).Value;
            return new ShardFile(name, written.ContentLength, written.LastModified, group.Select(f => f.Name).ToList());
        }
        finally
        {
            foreach (var file in files) await file.DisposeAsync();
            File.Delete(path);
        }
    }

    private static string ShardPrefix(Tenant tenant, int shard) =>
        $"{tenant.BlobPrefix}/{ShardFolder}{shard.ToString("D4", CultureInfo.InvariantCulture)}/";
}
