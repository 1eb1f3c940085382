using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Workflow;

// What crosses the orchestration history: ids, counts and plans only, never profile data.

/// <summary>
/// The job an orchestration runs; <c>CallbackAttempts</c> is 0 when the job has no callback; <c>TraceParent</c>, the
/// W3C id of the span that created the job, parents the spans of its steps.
/// </summary>
public sealed record ExportJobInput(string OrgId, string Sandbox, long JobId, int CallbackAttempts = 0, string? TraceParent = null)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>
/// What Prepare decided: whether to run, which shards in which groups (one activity each, see
/// <see cref="Storage.ExportStorageOptions.ShardGroupBytes"/>), and how many activities run at once; <c>Stitched</c>:
/// the job's merge policy stitches profiles (<c>pdg</c>), so a graph build and a shuffle come first, and the shuffle's
/// <c>Partitions</c> (each a shard with the fragments moved to it) are grouped by the same bytes
/// (<c>ShardGroupBytes</c>): each shard's stored bytes (<c>ShardBytes</c>) and those moved to it.
/// <c>Listed</c>: the runs of the shards Prepare's listing found nothing to compact nor delete in, listed at
/// <c>ListedAtMs</c> (none for a <c>pdg</c> export).
/// </summary>
public sealed record ExportPlan(bool Proceed, IReadOnlyList<int[]> ShardGroups, int MaxParallelShards, int ShardAttempts,
    bool Stitched = false, long ShardGroupBytes = 0, int Partitions = 0, long[]? ShardBytes = null,
    IReadOnlyList<ListedShard>? Listed = null, long ListedAtMs = 0);

/// <summary>
/// A shard's runs as Prepare listed them: its profile fragments', and its events' when the job reads them (else null).
/// An activity that starts soon enough after the listing reads these instead of listing the shard again (an export
/// listed each of its shards; in Azurite a listing takes time that grows with the shard's files).
/// </summary>
public sealed record ListedShard(int Shard, IReadOnlyList<ListedRun> Profiles, IReadOnlyList<ListedRun>? Events);

/// <summary>
/// A run of a shard: its name and its parts, each a blob of the shard's folder by its name there, its size and its
/// ETag; or a section of a chunk file (<c>ChunkLength</c>, the chunk file's bytes, over 0), by the chunk file's whole
/// name, from <c>Offset</c>.
/// </summary>
public sealed record ListedRun(string Name, IReadOnlyList<ListedPart> Parts)
{
    internal static ListedRun Of(ProfileStore.ShardRun run, string shardPrefix) =>
        new(run.Name[shardPrefix.Length..], [.. run.Parts.Select(p =>
            new ListedPart(p.OfChunk ? p.Name : p.Name[shardPrefix.Length..], p.Length, p.Version?.ToString(), p.Offset, p.ChunkLength))]);

    internal ProfileStore.ShardRun ToRun(string shardPrefix) =>
        new(shardPrefix + Name, [.. Parts.Select(p => p.ChunkLength > 0
            ? new FileSection(p.Name, p.Offset, p.Length, p.ETag is null ? null : new Azure.ETag(p.ETag), p.ChunkLength)
            : new FileSection(shardPrefix + p.Name, 0, p.Length, p.ETag is null ? null : new Azure.ETag(p.ETag)))], default, []);
}

public sealed record ListedPart(string Name, long Length, string? ETag, long Offset = 0, long ChunkLength = 0);

/// <summary>
/// A group of shards one activity exports (or routes, in a shuffle), one after the other; <c>Graphs</c>: the key of
/// the graph build a <c>pdg</c> export uses — then the shards an export activity is given are the shuffle's partitions,
/// and <c>Routes</c> names, by shard, what each kind's route of it wrote (<see cref="RouteResult"/>; null for a shard
/// with no fragments). <c>Listed</c>, <c>ListedAtMs</c>: the runs of its shards as Prepare listed them (<see cref="ExportPlan"/>).
/// </summary>
public sealed record ShardTask(ExportJobInput Job, int[] Shards, string? Graphs = null, string[]?[]? Routes = null,
    IReadOnlyList<ListedShard>? Listed = null, long ListedAtMs = 0);

/// <summary>
/// What the first stage of a <c>pdg</c> export wrote from a group of shards: its bytes in each partition, and each
/// shard's routes (in the order of <c>Shards</c>), one name per kind routed, profiles first (<c>Identities.GraphShuffle</c>).
/// </summary>
public sealed record RouteResult(int[] Shards, long[] BytesByPartition, string[][] Routes);

/// <summary>
/// What a group of shards wrote: rows per output batch (in the job's batch order), per namespace and per requested
/// segment, its part files, (of an incremental export) its rows by change, and how long it took.
/// </summary>
public sealed record ShardResult(int[] Shards, long[] RowsByBatch, Dictionary<string, long> RowsByNamespace, long[] RowsBySegment, long Bytes, IReadOnlyList<PartFile> Parts,
    Core.Jobs.ChangeCounts? Changes = null, long Ms = 0)
{
    public long Rows => RowsByBatch.Sum();
}

/// <summary>A Parquet part a shard wrote into one of the job's batches (its index in the job's batch order).</summary>
public sealed record PartFile(int Batch, string Name, long Rows);

public sealed record FinalizeInput(ExportJobInput Job, IReadOnlyList<ShardResult> Shards, long ExportStartMs, long ExportEndMs, bool Cancelled);

public sealed record FailInput(ExportJobInput Job, string Code, string Message, string? CallStack);

/// <summary>
/// A tenant's background compaction: its shards, the quiet period it waits for, how many shards it compacts at once,
/// and how long after its last merge the runs it covered may be deleted; <paramref name="AfterMerge"/>: the pass that
/// follows a pass that merged and found every shard quiet, or the grace's end, run at once; <paramref name="Covered"/>:
/// a pass before merged, and the runs it covered are still to delete; <paramref name="Sweep"/>: the pass at the grace's
/// end, a shard at a time.
/// </summary>
public sealed record CompactionInput(string OrgId, string Sandbox, int ShardCount, int QuietSeconds, int MaxParallelShards, int SweepSeconds,
    bool AfterMerge = false, bool Covered = false, bool Sweep = false);

public sealed record ShardCompactionTask(string OrgId, string Sandbox, int Shard)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}
