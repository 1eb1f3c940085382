using System.ComponentModel.DataAnnotations;
using ExportJobs.Service.Storage.Output;

namespace ExportJobs.Service.Storage;

/// <summary>
/// Where records and files live. Bound from the <c>ExportJobs</c> configuration section. The storage account is given
/// either by a connection string (<see cref="StorageConnection"/>: Azurite, or keys) or by name
/// (<see cref="StorageAccountName"/>: reached with a Microsoft Entra identity, no keys), not both.
/// </summary>
public sealed class ExportStorageOptions : IValidatableObject
{
    public const string Section = "ExportJobs";

    /// <summary>Connection string of the storage account holding jobs, datasets, profiles and exports.</summary>
    public string? StorageConnection { get; set; }

    /// <summary>Identity-based connection: the account's name; its endpoints are <c>https://{name}.{blob|table}.{StorageEndpointSuffix}</c>.</summary>
    [RegularExpression("^[a-z0-9]{3,24}$")] public string? StorageAccountName { get; set; }

    /// <summary>The storage endpoint suffix of the cloud (<c>core.windows.net</c> in the public cloud).</summary>
    [RegularExpression("^[a-z0-9.-]+$")] public string StorageEndpointSuffix { get; set; } = "core.windows.net";

    /// <summary>Identity-based connection: the client id of the user-assigned managed identity to use; empty, the default credential chain.</summary>
    public string? StorageClientId { get; set; }

    /// <summary>
    /// Prefix of every table and container name (letters and digits, lowercase), so several deployments or test runs
    /// can share one account. Empty in production.
    /// </summary>
    [RegularExpression("^[a-z0-9]{0,20}$")] public string NamePrefix { get; set; } = "";

    /// <summary>
    /// How many shards the profile store hashes identities into; an export runs one activity per group of shards
    /// (<see cref="ShardGroupBytes"/>).
    /// Fixed for the life of the data: profiles ingested under one count are not found under another.
    /// </summary>
    [Range(1, 4096)] public int ShardCount { get; set; } = 16;

    /// <summary>
    /// Shards whose fragment files come to at most this many bytes together are exported by one activity, one after
    /// the other: a small tenant's export is one activity, not one per shard, so its fixed cost (a queue hop, the job
    /// record read and written) is paid once. 0: every shard in an activity of its own.
    /// </summary>
    [Range(0, long.MaxValue)] public long ShardGroupBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// A <c>pdg</c> export's graph build has a partition of components per this many bytes of the tenant's fragment
    /// files (at least 1, at most 32): each rules activity holds one partition's rows as their files' bytes and one
    /// component's as objects, so this bounds their memory (see docs/identity.md). The bytes are those of the files listed,
    /// which are the live runs alone once background compaction has deleted covered runs (a third of what the listing
    /// held with them after a bulk load): 12 MB gives the partitions that 32 MB gave with them, whose memory was measured.
    /// </summary>
    [Range(1, long.MaxValue)] public long GraphPartitionBytes { get; set; } = 12 * 1024 * 1024;

    /// <summary>
    /// The build's links, rounds and grouping have a partition of identities per this many bytes of fragment files (at
    /// least 1, at most 32). They hold a partition compactly (fingerprints, neighbours as indexes); each writes a file per
    /// pair of partitions, so fewer, larger partitions are fewer requests. 12 MB, as <see cref="GraphPartitionBytes"/>.
    /// </summary>
    [Range(1, long.MaxValue)] public long GraphRoundPartitionBytes { get; set; } = 12 * 1024 * 1024;

    /// <summary>
    /// How many shards one process reads at once (exports and compactions), whatever the activities it runs: what
    /// bounds a host's memory (see <c>Workflow.ShardReadGate</c>).
    /// </summary>
    [Range(1, 256)] public int MaxShardReadsPerHost { get; set; } = 4;

    /// <summary>
    /// How many of those reads may be a <c>pdg</c> export's route or partition export (which also hold their shard's
    /// tables of the graph build) or a graph build's rules. 2: at N = 1,000,000 people on 2 cores the export stage took
    /// as long with 2 as with 3 or 4, and peaked at 418 MB against 466-521 MB with 3 and 512-537 MB with 4
    /// (docs/performance.md).
    /// </summary>
    [Range(1, 256)] public int MaxStitchedReadsPerHost { get; set; } = 2;

    /// <summary>
    /// Whether ingestion and compaction shred members whose values are objects into typed leaf columns
    /// (<c>Storage.Profiles.LeafShape</c>, docs/storage.md "Typed leaves"). Off by default: until exports merge and
    /// write from the leaves' values, a read writes each value back as JSON text from its leaves, which made the
    /// benchmark's whole-store export and segment job slower and their peaks higher (docs/performance.md, "Typed
    /// leaves"); what it gives now is reads of only the leaves an export's fields touch. Files with typed leaves are read
    /// whatever this says.
    /// </summary>
    public bool TypedLeaves { get; set; }

    /// <summary>
    /// How many seconds a host starting may spend at most running ingestion's work on generated records in memory, and
    /// its requests to the storage account and the task hub (refused, or answered with nothing), before it takes
    /// requests (<c>Datasets.IngestionWarmUp</c>), so that its first ingestion runs optimised code; 0: none.
    /// </summary>
    [Range(0, 300)] public int WarmUpSeconds { get; set; }

    /// <summary>
    /// Minutes a graph build stays once a newer build of its tenant completed (<c>Identities.SupersededBuilds</c>): an
    /// export that started on it before has that long to finish.
    /// </summary>
    [Range(0, 7 * 24 * 60)] public int SupersededBuildMinutes { get; set; } = 60;

    /// <summary>
    /// The most bytes of fragment files a host keeps copies of on its local disk (<c>Storage.Profiles.FragmentFileCache</c>):
    /// a file it wrote or read is not fetched again while its copy lasts. 1 GiB; 0: no copies. A file larger than
    /// a quarter of it is not copied. Passing copies (files fetched for a read when the copies have no room) hold up to
    /// as much again.
    /// </summary>
    [Range(0, long.MaxValue)] public long LocalCacheBytes { get; set; } = 1L << 30;

    /// <summary>How many shard activities of one job run at once.</summary>
    [Range(1, 256)] public int MaxParallelShards { get; set; } = 8;

    /// <summary>How many times a shard activity is tried before the job fails.</summary>
    [Range(1, 10)] public int ShardAttempts { get; set; } = 3;

    /// <summary>
    /// Most rows in one Parquet part: a shard writes a part each time it has this many rows for a batch, or sooner by
    /// <see cref="PartBytes"/>, so the memory of an export does not grow with the data.
    /// </summary>
    [Range(1, 1_000_000)] public int PartRows { get; set; } = 100_000;

    /// <summary>
    /// Most bytes the rows a shard's export is gathering hold, over the parts of all its batches (their columns' values,
    /// levels and characters; without a schema, their JSON text): past it, the largest part is written. So parts of
    /// wide rows are cut sooner than parts of narrow ones, a job of many batches holds no more than one of one batch,
    /// and an export of a few columns writes few parts (each part is a request and a footer).
    /// </summary>
    [Range(1, long.MaxValue)] public long PartBytes { get; set; } = 4L << 20;

    /// <summary>
    /// Most runs of fragment files a shard is read from (an ingested file, or the parts of a compacted run): the shard
    /// activity merges the smallest runs of a shard that has more, and background compaction after ingestion brings a
    /// shard down to a quarter of it (at least 2), so the memory of an export does not grow with the number of ingested
    /// batches nor with the data.
    /// </summary>
    [Range(2, 1_000)] public int MaxShardFiles { get; set; } = 16;

    /// <summary>
    /// Background compaction: after a batch is ingested, the tenant's shards are compacted once no fragment file was
    /// written to them for this many seconds, so that a bulk load is compacted after it, not during it, nor by the
    /// export that follows. 0: compacted as soon as a batch lands.
    /// </summary>
    [Range(0, 3_600)] public int CompactionQuietSeconds { get; set; } = 10;

    /// <summary>
    /// The most work segment evaluation may do for one job, in units (an element a PQL quantifier visits, a character a
    /// pattern scans), shared evenly by its shards; past it the job fails with <c>SEGMENT_EVALUATION_BUDGET_EXCEEDED</c>.
    /// </summary>
    [Range(1_000_000, 10_000_000_000_000)] public long EvaluationBudget { get; set; } = 10_000_000_000;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        bool byConnection = !string.IsNullOrEmpty(StorageConnection), byIdentity = !string.IsNullOrEmpty(StorageAccountName);
        if (byConnection == byIdentity)
            yield return new ValidationResult("Give ExportJobs:StorageConnection (a connection string) or ExportJobs:StorageAccountName (an identity-based connection), not both.",
                [nameof(StorageConnection), nameof(StorageAccountName)]);
    }
}
