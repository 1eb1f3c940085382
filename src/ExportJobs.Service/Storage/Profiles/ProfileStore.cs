using System.Globalization;
using System.Runtime.CompilerServices;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Tenancy;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>Profile records, or experience events: the two kinds of fragment the store keeps, each in its container.</summary>
public enum FragmentKind { Profile, Event }

/// <summary>
/// The profile store: immutable Parquet fragment files, one per shard per ingested batch (per chunk of it, for a batch
/// ingested in several: <c>~{chunk:D4}</c> after the first), named <c>{org}/{sandbox}/shard-{k}/{ingestTimeMs}-{batchId}.parquet</c>
/// in the container of their kind. An ingested chunk's files are sections of one chunk file,
/// <c>{org}/{sandbox}/chunks/{ingestTimeMs}-{batchId}.parquet</c>, whose metadata gives each section's shard and length
/// (<see cref="ChunkSections"/>); a listing of a shard gives them as runs of the shard under those names. Each file is sorted
/// by identity, and the ingest time leads its name, so a shard reads as one stream ordered by identity — a k-way merge
/// of its runs, one row group of each in memory — with each identity's fragments oldest first. A run is an ingested
/// file, or the part files a compaction wrote (<see cref="RunWriter"/>), read one part after the other. So that the
/// runs a shard is read from stay few whatever the data, <see cref="ShardCompactor"/> merges the smallest into
/// compacted runs; the last part of a compacted run names the runs it covers in its metadata, and reads leave covered
/// runs out, and runs whose last part is not there yet. Files the host writes or reads whole are copied to its local
/// disk, and read from there while the copy lasts (<see cref="FragmentFileCache"/>).
/// </summary>
public sealed class ProfileStore(StorageClients clients, IOptions<ExportStorageOptions> options, FragmentFileCache cache)
{
    private const string ShardFolder = "shard-";
    /// <summary>The metadata of a compacted run's last part that names the runs it covers (comma-separated, without the shard's folder).</summary>
    internal const string CoversKey = "covers";

    /// <summary>Batches whose files are never compacted, as a job writes, skips and deletes them by batch (segment memberships).</summary>
    public const string KeptApartBatchPrefix = "segmentation";

    public int ShardCount => options.Value.ShardCount;

    internal BlobContainerClient Container(FragmentKind kind) => kind == FragmentKind.Profile ? clients.Profiles : clients.Events;

    /// <summary>
    /// Writes the records of one batch, or of its chunk number <paramref name="chunk"/> (each a JSON object's UTF-8 text,
    /// as ingested), each to the shard of its primary identity, sorted by identity. Each keeps its place in the batch:
    /// <paramref name="firstSequence"/> for the first record given, and so on. With typed leaves, the dataset's record
    /// <paramref name="schema"/> declares the leaves of its members that are objects (<see cref="LeafShape.DeclaredBy(SchemaNode)"/>).
    /// The shards' files go into one chunk file (<see cref="ChunkFolder"/>), a section each, unless their table would not
    /// fit the blob's metadata (<see cref="MaxSectionsText"/>): then each is a file of its shard's folder.
    /// </summary>
    public async Task WriteBatchAsync(FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
        IEnumerable<(Identity Identity, ReadOnlyMemory<byte> Json)> records, CancellationToken ct, int chunk = 0, long firstSequence = 0, SchemaNode? schema = null)
    {
        var declared = options.Value.TypedLeaves && schema is not null ? LeafShape.DeclaredBy(schema) : null;
        var byShard = ByShard(records, firstSequence, ShardCount);
        // A section is at most the chunk's lines (IngestChunkBytes, an int).
        if (ChunkSections.Text(byShard.Keys.Select(shard => (shard, (long)int.MaxValue))).Length > MaxSectionsText)
        {
            await Parallel.ForEachAsync(byShard, ChunkFilesAtOnce(ct), async (entry, c) =>
                await WriteFileAsync(kind, FileName(tenant, entry.Key, ingestTimeMs, batchId, chunk), Sorted(entry.Value, ingestTimeMs, datasetId, batchId), c, declared));
            return;
        }
        using var whole = PooledStreams.Get();
        var sections = await EncodeSectionsAsync(whole, byShard, ingestTimeMs, datasetId, batchId, options.Value.TypedLeaves, declared, ct);
        whole.Position = 0;
        var blob = Container(kind).GetBlobClient(ChunkFileName(tenant, ingestTimeMs, batchId, chunk));
        var written = await blob.UploadAsync(whole, new BlobUploadOptions { Metadata = new Dictionary<string, string> { [ChunkSections.Key] = ChunkSections.Text(sections) } }, ct);
        await cache.AddAsync(blob, written.Value.ETag, whole, ct);
    }

    /// <summary>A chunk's records by the shard of their primary identity, each with its place in the batch (from <paramref name="firstSequence"/>).</summary>
    internal static SortedDictionary<int, List<(Identity Identity, ReadOnlyMemory<byte> Json, long Sequence)>> ByShard(
        IEnumerable<(Identity Identity, ReadOnlyMemory<byte> Json)> records, long firstSequence, int shardCount)
    {
        var byShard = new SortedDictionary<int, List<(Identity Identity, ReadOnlyMemory<byte> Json, long Sequence)>>();
        long sequence = firstSequence;
        foreach (var (identity, json) in records)
        {
            int shard = ShardRouter.ShardOf(identity, shardCount);
            if (!byShard.TryGetValue(shard, out var rows)) byShard[shard] = rows = [];
            rows.Add((identity, json, sequence++));
        }
        return byShard;
    }

    /// <summary>
    /// Encodes each shard's records of a chunk as its fragment file, appended to <paramref name="whole"/> as soon as it is
    /// encoded (in whatever order), so the chunk file is held once; returns the sections, as appended.
    /// </summary>
    internal static async Task<List<(int Shard, long Length)>> EncodeSectionsAsync(Stream whole,
        SortedDictionary<int, List<(Identity Identity, ReadOnlyMemory<byte> Json, long Sequence)>> byShard, long ingestTimeMs, string datasetId, string batchId,
        bool typedLeaves, IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared, CancellationToken ct)
    {
        var sections = new List<(int Shard, long Length)>();
        await Parallel.ForEachAsync(byShard, ChunkFilesAtOnce(ct), async (entry, c) =>
        {
            using var file = PooledStreams.Get();
            await WriteFileAsync(file, Sorted(entry.Value, ingestTimeMs, datasetId, batchId), c, typedLeaves: typedLeaves, declared: declared);
            lock (sections)
            {
                file.WriteTo(whole);
                sections.Add((entry.Key, file.Length));
            }
        });
        return sections;
    }

    /// <summary>A shard's records of a chunk sorted by identity, each split into its members; a stable sort, so an identity's fragments keep their order in the batch.</summary>
    private static List<FragmentRow> Sorted(List<(Identity Identity, ReadOnlyMemory<byte> Json, long Sequence)> rows, long ingestTimeMs, string datasetId, string batchId) =>
        rows.OrderBy(r => r.Identity, IdentityKey.Order)
            .Select(r => new FragmentRow(r.Identity.Namespace, r.Identity.Id, ingestTimeMs, datasetId, batchId, StoredRecord.Split(r.Json), r.Sequence)).ToList();

    /// <summary>How many of a chunk's files (one per shard) are encoded (and uploaded, when written apart) at once.</summary>
    private const int ConcurrentChunkFiles = 4;

    private static ParallelOptions ChunkFilesAtOnce(CancellationToken ct) => new() { MaxDegreeOfParallelism = ConcurrentChunkFiles, CancellationToken = ct };

    /// <summary>
    /// The folder of a tenant's chunk files: an ingested chunk's files of every shard in one blob (a request to write,
    /// where a file per shard took one each, and the storage service's CPU a request is the most of what it costs).
    /// </summary>
    private const string ChunkFolder = "chunks/";

    /// <summary>The longest table of sections a chunk file's metadata holds (a blob's metadata holds 8 KB at most): 256 shards at least.</summary>
    private const int MaxSectionsText = 4096;

    /// <summary>Deletes the files of the first <paramref name="chunks"/> chunks of an ingested batch: their chunk files, and in every shard (a batch that was not kept).</summary>
    public async Task DeleteChunksAsync(FragmentKind kind, Tenant tenant, string batchId, long ingestTimeMs, int chunks, CancellationToken ct)
    {
        for (int chunk = 0; chunk < chunks; chunk++)
        {
            await DeleteAsync(Container(kind).GetBlobClient(ChunkFileName(tenant, ingestTimeMs, batchId, chunk)), ct);
            for (int shard = 0; shard < ShardCount; shard++)
                await DeleteAsync(Container(kind).GetBlobClient(FileName(tenant, shard, ingestTimeMs, batchId, chunk)), ct);
        }
    }

    /// <summary>
    /// A writer of the fragments of one shard that a job computes (segment memberships), in identity order, as one file
    /// named by <paramref name="batchId"/>: written again, it is replaced; with no fragment, there is no file (see
    /// <see cref="ShardFileWriter"/>). Each record's <paramref name="members"/> are columns.
    /// </summary>
    internal ShardFileWriter OpenShardWriter(FragmentKind kind, Tenant tenant, int shard, string datasetId, string batchId, long ingestTimeMs,
        IEnumerable<string> members) =>
        new(Container(kind).GetBlobClient(FileName(tenant, shard, ingestTimeMs, batchId)), datasetId, batchId, ingestTimeMs,
            FragmentColumns.NamesOf(members.Select(MemberName.Of)), cache);

    /// <summary>Writes rows sorted by identity as one fragment file of this kind's container, and the host's copy of it; returns its bytes.</summary>
    internal Task<long> WriteFileAsync(FragmentKind kind, string name, IReadOnlyList<FragmentRow> sorted, CancellationToken ct,
        IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared = null) =>
        WriteFileAsync(Container(kind), name, sorted, ct, cache, options.Value.TypedLeaves, declared);

    /// <summary>
    /// Writes rows sorted by identity as one fragment file of a container (a shard's, or a job's own), and a copy of it
    /// in <paramref name="cache"/> when given; returns its bytes.
    /// </summary>
    internal static async Task<long> WriteFileAsync(BlobContainerClient container, string name, IReadOnlyList<FragmentRow> sorted, CancellationToken ct,
        FragmentFileCache? cache = null, bool typedLeaves = false, IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared = null)
    {
        using var buffer = PooledStreams.Get();
        await WriteFileAsync(buffer, sorted, ct, typedLeaves: typedLeaves, declared: declared);
        buffer.Position = 0;
        var blob = container.GetBlobClient(name);
        var written = await blob.UploadAsync(buffer, overwrite: true, ct);
        if (cache is not null) await cache.AddAsync(blob, written.Value.ETag, buffer, ct);
        return buffer.Length;
    }

    /// <summary>Deletes a fragment file, and the host's copy of it.</summary>
    internal async Task<bool> DeleteAsync(BlobClient blob, CancellationToken ct)
    {
        cache.Remove(blob);
        return await blob.DeleteIfExistsAsync(cancellationToken: ct);
    }

    /// <summary>Writes rows sorted by identity as one fragment file into an empty stream (a file's offsets are from the stream's start).</summary>
    internal static async Task WriteFileAsync(Stream empty, IReadOnlyList<FragmentRow> sorted, CancellationToken ct, int groupRows = FragmentColumns.RowGroupSize,
        bool typedLeaves = false, IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared = null)
    {
        var members = FragmentColumns.NamesOf(MemberNames(sorted));
        await using var writer = FragmentFileWriter.Create(empty, members, groupRows, typedLeaves, declared);
        foreach (var row in sorted) await writer.AddAsync(row, ct);
    }

    /// <summary>The rows' member names, in order (one iterator, not one per row).</summary>
    private static IEnumerable<MemberName> MemberNames(IReadOnlyList<FragmentRow> rows)
    {
        for (int r = 0; r < rows.Count; r++)
        {
            var members = rows[r].Record.Members;
            for (int m = 0; m < members.Count; m++) yield return members[m].Name;
        }
    }

    /// <summary>
    /// A batch's file in a shard; a batch ingested in several chunks has one per chunk, the first named as a batch of
    /// one chunk and the next ones <c>~{chunk:D4}</c> after it, so they sort, and so merge, in the order they came.
    /// </summary>
    private static string FileName(Tenant tenant, int shard, long ingestTimeMs, string batchId, int chunk = 0) =>
        ShardPrefix(tenant, shard) + LeafName(ingestTimeMs, batchId, chunk);

    /// <summary>A chunk file's name: its sections are the runs of their shards named <see cref="FileName"/> alike.</summary>
    private static string ChunkFileName(Tenant tenant, long ingestTimeMs, string batchId, int chunk) =>
        ChunkPrefix(tenant) + LeafName(ingestTimeMs, batchId, chunk);

    private static string LeafName(long ingestTimeMs, string batchId, int chunk) =>
        $"{ingestTimeMs.ToString("D15", CultureInfo.InvariantCulture)}-{batchId}" + (chunk == 0 ? "" : "~" + chunk.ToString("D4", CultureInfo.InvariantCulture)) + ".parquet";

    internal static string ChunkPrefix(Tenant tenant) => $"{tenant.BlobPrefix}/{ChunkFolder}";

    /// <summary>A file's name without its extension: a compacted run's name, its parts' names without their number.</summary>
    internal static string Stem(Tenant tenant, int shard, long ingestTimeMs, string batchId) =>
        $"{ShardPrefix(tenant, shard)}{ingestTimeMs.ToString("D15", CultureInfo.InvariantCulture)}-{batchId}";

    /// <summary>How every file of a batch ends, whatever its shard and ingest time.</summary>
    private static string BatchSuffix(string batchId) => $"-{batchId}.parquet";

    /// <summary>Removes the files of one batch from every shard of the tenant; returns how many there were.</summary>
    public async Task<int> DeleteBatchAsync(FragmentKind kind, Tenant tenant, string batchId, CancellationToken ct)
    {
        int removed = 0;
        string suffix = BatchSuffix(batchId);
        var container = Container(kind);
        await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = tenant.BlobPrefix + "/" }, ct))
            if (blob.Name.EndsWith(suffix, StringComparison.Ordinal) && await DeleteAsync(container.GetBlobClient(blob.Name), ct))
                removed++;
        return removed;
    }

    /// <summary>The shards of a tenant that hold any fragment of this kind, in order.</summary>
    public async Task<IReadOnlyList<int>> ListShardsAsync(FragmentKind kind, Tenant tenant, CancellationToken ct) =>
        [.. (await ListShardSizesAsync(kind, tenant, ct)).Keys];

    /// <summary>The bytes of fragment files of these kinds together in each shard of a tenant that has any, in shard order.</summary>
    public async Task<SortedDictionary<int, long>> ListShardSizesAsync(IEnumerable<FragmentKind> kinds, Tenant tenant, CancellationToken ct)
    {
        var bytes = new List<(int Shard, long Bytes)>();
        foreach (var kind in kinds) bytes.AddRange((await ListShardSizesAsync(kind, tenant, ct)).Select(s => (s.Key, s.Value)));
        return SumByShard(bytes);
    }

    /// <summary>
    /// The bytes of fragment files of this kind in each shard of a tenant that has any, in shard order (one listing of
    /// the tenant's shard folders, one of its chunk files).
    /// </summary>
    public async Task<SortedDictionary<int, long>> ListShardSizesAsync(FragmentKind kind, Tenant tenant, CancellationToken ct)
    {
        var sections = ListChunkSectionsAsync(kind, tenant, ct);
        var bytes = new List<(int Shard, long Bytes)>();
        string prefix = tenant.BlobPrefix + "/" + ShardFolder;
        await foreach (var blob in Container(kind).GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, ct))
            if (ShardOf(blob.Name, prefix) is { } shard) bytes.Add((shard, blob.Properties.ContentLength ?? 0));
        bytes.AddRange((await sections).SelectMany(s => s.Value.Select(run => (s.Key, run.Size))));
        return SumByShard(bytes);
    }

    /// <summary>The sections of the tenant's chunk files of this kind, as runs of their shards (<see cref="ChunkSections"/>), by shard.</summary>
    private async Task<Dictionary<int, List<ShardRun>>> ListChunkSectionsAsync(FragmentKind kind, Tenant tenant, CancellationToken ct)
    {
        var byShard = new Dictionary<int, List<ShardRun>>();
        string prefix = ChunkPrefix(tenant);
        await foreach (var chunk in Container(kind).GetBlobsAsync(new GetBlobsOptions { Prefix = prefix, Traits = BlobTraits.Metadata }, ct))
            foreach (var (shard, section) in ChunkSections.Of(chunk))
            {
                if (!byShard.TryGetValue(shard, out var runs)) byShard[shard] = runs = [];
                runs.Add(new ShardRun(ShardPrefix(tenant, shard) + chunk.Name[prefix.Length..], [section], chunk.Properties.LastModified ?? DateTimeOffset.MinValue, []));
            }
        return byShard;
    }

    /// <summary>Bytes summed by shard, in shard order.</summary>
    private static SortedDictionary<int, long> SumByShard(IEnumerable<(int Shard, long Bytes)> bytes)
    {
        var sums = new SortedDictionary<int, long>();
        foreach (var (shard, count) in bytes) sums[shard] = sums.GetValueOrDefault(shard) + count;
        return sums;
    }

    /// <summary>
    /// The fragments of one shard, grouped by identity in identity-key order; within a group, oldest first (see
    /// <see cref="IdentityRows"/>). A group (its list and its records) is valid until the next group is asked for (the
    /// list is reused, the documents are pooled). The files of <paramref name="skipBatchId"/> are left out (a job reads
    /// its shard without what it wrote there itself), and so are the files a compacted file covers. With
    /// <paramref name="members"/>, each record holds only those of its top-level members: the other columns are neither
    /// decoded nor parsed. With <paramref name="prefilter"/>, only the identities it keeps are parsed and yielded (its
    /// member must be one of those read). With <paramref name="mergedBy"/>, the fragments are read only to be merged by
    /// that rule: a record leaves out the members the record before it in the rule's order repeats (<see cref="RepeatedMembers"/>).
    /// </summary>
    public async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadShardAsync(
        FragmentKind kind, Tenant tenant, int shard, [EnumeratorCancellation] CancellationToken ct, string? skipBatchId = null,
        MemberSelection? members = null, MemberPrefilter? prefilter = null, MergeRule? mergedBy = null)
    {
        var listed = await ListRunsAsync(kind, tenant, shard, ct);
        await foreach (var group in ReadRunsAsync(kind, listed.Live, ct, skipBatchId, members, prefilter, mergedBy)) yield return group;
    }

    /// <summary>As <see cref="ReadShardAsync"/>, from the shard's live runs as listed (<see cref="ShardCompactor.ReadyToReadAsync"/>).</summary>
    internal IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadRunsAsync(
        FragmentKind kind, IReadOnlyList<ShardRun> live, CancellationToken ct, string? skipBatchId = null,
        MemberSelection? members = null, MemberPrefilter? prefilter = null, MergeRule? mergedBy = null)
    {
        ReadsMemberOf(prefilter, members);
        return GroupAsync(c => OpenAsync(Container(kind), Readable(live, skipBatchId), members, c), prefilter, ct, mergedBy: mergedBy);
    }

    private static void ReadsMemberOf(MemberPrefilter? prefilter, MemberSelection? members)
    {
        if (prefilter is not null && members?.Reads(prefilter.Member) == false)
            throw new ArgumentException($"A read that leaves out member {prefilter.Member} cannot be prefiltered by it.", nameof(prefilter));
    }

    /// <summary>
    /// The runs a read of the shard would merge now, less the files of <paramref name="skipBatchId"/>: what such a read
    /// returns is a function of their names (<see cref="ShardRun.Name"/>) alone, as files are immutable.
    /// </summary>
    internal async Task<List<ShardRun>> RunsToReadAsync(FragmentKind kind, Tenant tenant, int shard, string? skipBatchId, CancellationToken ct) =>
        Readable((await ListRunsAsync(kind, tenant, shard, ct)).Live, skipBatchId);

    /// <summary>The live runs a read merges, less the files of <paramref name="skipBatchId"/>.</summary>
    private static List<ShardRun> Readable(IReadOnlyList<ShardRun> live, string? skipBatchId)
    {
        string? skipSuffix = skipBatchId is null ? null : BatchSuffix(skipBatchId);
        return live.Where(f => skipSuffix is null || !f.Name.EndsWith(skipSuffix, StringComparison.Ordinal)).ToList();
    }

    /// <summary>
    /// The rows of the runs of a shard listed by <see cref="RunsToReadAsync"/>, in identity-key order, with the members of
    /// <paramref name="members"/> (all when null), of the identities (namespace, id) <paramref name="keep"/> keeps.
    /// </summary>
    internal async IAsyncEnumerable<FragmentRow> ReadRunRowsAsync(FragmentKind kind, IReadOnlyList<ShardRun> runs,
        MemberSelection? members, IdentityFilter keep, [EnumeratorCancellation] CancellationToken ct)
    {
        var files = await OpenAsync(Container(kind), runs, members, ct, keep: keep);
        try
        {
            await foreach (var file in FragmentCursor.MergeAsync(files, ct)) yield return file.Current;
        }
        finally
        {
            foreach (var file in files) await file.DisposeAsync();
        }
    }

    /// <summary>
    /// As <see cref="ReadRunsAsync"/>, with files of another container (sections of its blobs) read as runs beside the
    /// shard's own (<paramref name="live"/>), a run each (a <c>pdg</c> export's fragments moved to the shard); of the
    /// shard's own rows, those of the identities (namespace, id) <paramref name="ownKeep"/> keeps, each as
    /// <paramref name="ownRow"/> makes it.
    /// </summary>
    internal async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadShardWithFilesAsync(
        FragmentKind kind, IReadOnlyList<ShardRun> live, BlobContainerClient container, IReadOnlyList<FileSection> moved,
        IdentityFilter ownKeep, Func<FragmentRow, FragmentRow> ownRow, string? skipBatchId, MemberSelection? members, MemberPrefilter? prefilter,
        [EnumeratorCancellation] CancellationToken ct)
    {
        ReadsMemberOf(prefilter, members);
        var files = await OpenAsync(Container(kind), Readable(live, skipBatchId), members, ct, keep: ownKeep);
        // The moved runs are indexed after every run of the shard's own.
        int own = files.Count == 0 ? 0 : files.Max(f => f.Index) + 1;
        try
        {
            files.AddRange(await OpenAsync(container, moved.Select(file => new ShardRun(file.Name, [file], default, [])), members, ct, firstIndex: own));
        }
        catch
        {
            foreach (var file in files) await file.DisposeAsync();
            throw;
        }
        await foreach (var group in GroupAsync(_ => Task.FromResult(files), prefilter, ct, (run, row) => run < own ? ownRow(row) : row)) yield return group;
    }

    /// <summary>
    /// The names of the runs a read of every shard of this kind would merge now, segment memberships aside, in shard
    /// order, and the bytes of each shard's files (as <see cref="ListShardSizesAsync(FragmentKind, Tenant, CancellationToken)"/>).
    /// </summary>
    public async Task<(List<string> LiveRuns, SortedDictionary<int, long> Sizes)> ListLiveRunsAsync(FragmentKind kind, Tenant tenant, CancellationToken ct)
    {
        var shards = await ListShardRunsAsync(kind, tenant, ct);
        var runs = shards.Values.SelectMany(s => s.Live.Where(r => !r.KeptApart).Select(r => r.Name)).ToList();
        return (runs, BytesByShard(shards));
    }

    /// <summary>The bytes of each listed shard's files, those of every listing (of each kind) together, in shard order.</summary>
    internal static SortedDictionary<int, long> BytesByShard(params IEnumerable<SortedDictionary<int, ShardRuns>> listings) =>
        SumByShard(listings.SelectMany(listing => listing.Select(s => (s.Key, s.Value.Bytes))));

    /// <summary>
    /// The runs of every shard of this kind that has files, as <see cref="ListRunsAsync"/> gives them, with the bytes of
    /// the shard's files: from one listing of the tenant's files (a listing per shard made 17 requests, each of which
    /// Azurite answers in time that grows with the tenant's files).
    /// </summary>
    internal async Task<SortedDictionary<int, ShardRuns>> ListShardRunsAsync(FragmentKind kind, Tenant tenant, CancellationToken ct)
    {
        var sections = ListChunkSectionsAsync(kind, tenant, ct);
        var byShard = new SortedDictionary<int, List<BlobItem>>();
        string prefix = tenant.BlobPrefix + "/" + ShardFolder;
        await foreach (var blob in Container(kind).GetBlobsAsync(new GetBlobsOptions { Prefix = prefix, Traits = BlobTraits.Metadata }, ct))
            if (ShardOf(blob.Name, prefix) is { } shard)
            {
                if (!byShard.TryGetValue(shard, out var blobs)) byShard[shard] = blobs = [];
                blobs.Add(blob);
            }
        var chunked = await sections;
        return new SortedDictionary<int, ShardRuns>(byShard.Keys.Union(chunked.Keys).ToDictionary(shard => shard,
            shard => RunsOf(ShardPrefix(tenant, shard), byShard.GetValueOrDefault(shard) ?? [], chunked.GetValueOrDefault(shard) ?? [])));
    }

    /// <summary>The shard whose folder holds a blob listed under <paramref name="prefix"/> (a tenant's shard folders), or null.</summary>
    private static int? ShardOf(string name, string prefix)
    {
        var folder = name.AsSpan(prefix.Length);
        int slash = folder.IndexOf('/');
        return slash > 0 && int.TryParse(folder[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out int shard) ? shard : null;
    }

    /// <summary>
    /// The rows of the runs <paramref name="open"/> opens (when the first group is asked for) merged, grouped by identity,
    /// each group oldest first, each row as <paramref name="rewrite"/> makes it from its run's index (it keeps the row's
    /// identity and provenance), the groups <paramref name="prefilter"/> leaves out neither parsed nor yielded, the
    /// members repeated left out of records read only to be merged by <paramref name="mergedBy"/>
    /// (<see cref="IdentityRows"/>); disposes the runs at the end. The runs are opened here, not by a caller's iterator
    /// around this one: each group yielded goes through one iterator fewer.
    /// </summary>
    private static async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> GroupAsync(Func<CancellationToken, Task<List<FragmentCursor>>> open,
        MemberPrefilter? prefilter, [EnumeratorCancellation] CancellationToken ct, Func<int, FragmentRow, FragmentRow>? rewrite = null, MergeRule? mergedBy = null)
    {
        var files = await open(ct);
        var identity = new IdentityRows(prefilter, rewrite, mergedBy);
        try
        {
            await foreach (var file in FragmentCursor.MergeAsync(files, ct))
            {
                var view = file.View;
                if (!identity.Holds(view))
                {
                    if (identity.Parse() is { } group) yield return group;
                    identity.Clear();
                }
                identity.Add(view, file.Index);
            }
            if (identity.Parse() is { } last) yield return last;
        }
        finally
        {
            identity.Clear();
            foreach (var file in files) await file.DisposeAsync();
        }
    }

    /// <summary>
    /// One run of a shard: an ingested file (named as its file) or a compacted run (named as its parts without their
    /// number), its parts in order with their sizes, when it was written (its last part), and the runs it covers.
    /// </summary>
    internal sealed record ShardRun(string Name, IReadOnlyList<FileSection> Parts, DateTimeOffset Written, IReadOnlyList<string> Covers)
    {
        public long Size => Parts.Sum(p => p.Length);
        /// <summary>A section of a chunk file, which holds those of other shards too: deleted with the chunk file (<see cref="ShardCompactor"/>).</summary>
        public bool InChunk => Parts is [{ OfChunk: true }];
        public bool KeptApart => Name.Contains("-" + KeptApartBatchPrefix, StringComparison.Ordinal);
    }

    /// <summary>
    /// The runs of a shard in name order (oldest first): those read, those a compacted run covers, and compacted runs
    /// not whole yet (being written, or left by a compaction that stopped).
    /// </summary>
    internal async Task<ShardRuns> ListRunsAsync(FragmentKind kind, Tenant tenant, int shard, CancellationToken ct)
    {
        var sections = ListChunkSectionsAsync(kind, tenant, ct);
        string prefix = ShardPrefix(tenant, shard);
        var blobs = new List<BlobItem>();
        await foreach (var blob in Container(kind).GetBlobsAsync(new GetBlobsOptions { Prefix = prefix, Traits = BlobTraits.Metadata }, ct))
            blobs.Add(blob);
        return RunsOf(prefix, blobs, (await sections).GetValueOrDefault(shard) ?? []);
    }

    /// <summary>
    /// A shard's runs as listed (<see cref="ListRunsAsync"/>): those read, those a compacted run covers, and compacted
    /// runs not whole yet; and the bytes of all its files.
    /// </summary>
    internal sealed record ShardRuns(List<ShardRun> Live, List<ShardRun> Covered, List<ShardRun> Unfinished, long Bytes);

    /// <summary>
    /// The runs of a shard from the listing (with metadata, in name order) of its folder <paramref name="prefix"/>, and
    /// its <paramref name="sections"/> of chunk files, as <see cref="ListRunsAsync"/> gives them.
    /// </summary>
    private static ShardRuns RunsOf(string prefix, List<BlobItem> blobs, List<ShardRun> sections)
    {
        var whole = new List<ShardRun>(sections);
        var unfinished = new List<ShardRun>();
        foreach (var parts in blobs.GroupBy(b => RunWriter.RunOf(b.Name), StringComparer.Ordinal))
        {
            var last = parts.Last();
            var run = new ShardRun(parts.Key, parts.Select(b => new FileSection(b.Name, 0, b.Properties.ContentLength ?? 0, b.Properties.ETag)).ToList(),
                parts.Max(b => b.Properties.LastModified ?? DateTimeOffset.MinValue),
                last.Metadata.TryGetValue(CoversKey, out string? covers) ? covers.Split(',').Select(n => prefix + n).ToList() : []);
            bool isWhole = parts.Key == last.Name ||
                (last.Metadata.TryGetValue(RunWriter.PartsKey, out string? count) && count == parts.Count().ToString(CultureInfo.InvariantCulture));
            (isWhole ? whole : unfinished).Add(run);
        }
        whole.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
        var covered = whole.SelectMany(f => f.Covers).ToHashSet(StringComparer.Ordinal);
        return new ShardRuns(whole.Where(f => !covered.Contains(f.Name)).ToList(), whole.Where(f => covered.Contains(f.Name)).ToList(), unfinished,
            blobs.Sum(b => b.Properties.ContentLength ?? 0) + sections.Sum(s => s.Size));
    }

    /// <summary>How many runs a read of the shard merges (compaction keeps it at most <see cref="ExportStorageOptions.MaxShardFiles"/>, segment memberships aside).</summary>
    public async Task<int> CountLiveFilesAsync(FragmentKind kind, Tenant tenant, int shard, CancellationToken ct) =>
        (await ListRunsAsync(kind, tenant, shard, ct)).Live.Count;

    /// <summary>
    /// The runs opened, each positioned on its first row, reading the members of <paramref name="members"/> (all when
    /// null), indexed from <paramref name="firstIndex"/> by their place among <paramref name="runs"/> (a run without
    /// rows, or without rows of identities <paramref name="keep"/> keeps when given, is left out, its index unused). Opened
    /// <see cref="ConcurrentOpens"/> at a time: opening fetches a file's footer (a small file whole), a request each,
    /// and a <c>pdg</c> export stage opens its shard's runs and every shard's moved runs, about 50 of them.
    /// </summary>
    internal async Task<List<FragmentCursor>> OpenAsync(BlobContainerClient container, IEnumerable<ShardRun> runs, MemberSelection? members, CancellationToken ct,
        int firstIndex = 0, IdentityFilter? keep = null)
    {
        var listed = runs.ToList();
        var opened = new FragmentCursor?[listed.Count];
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, listed.Count), new ParallelOptions { MaxDegreeOfParallelism = ConcurrentOpens, CancellationToken = ct },
                async (i, c) => opened[i] = await FragmentCursor.OpenAsync(listed[i].Parts.Select(p => (container.GetBlobClient(p.Name), p)), firstIndex + i, members, keep, cache, c));
            return opened.OfType<FragmentCursor>().ToList();
        }
        catch
        {
            foreach (var cursor in opened.OfType<FragmentCursor>()) await cursor.DisposeAsync();
            throw;
        }
    }

    private const int ConcurrentOpens = 8;

    internal static string ShardPrefix(Tenant tenant, int shard) =>
        $"{tenant.BlobPrefix}/{ShardFolder}{shard.ToString("D4", CultureInfo.InvariantCulture)}/";
}
