using System.ComponentModel.DataAnnotations;

namespace ExportJobs.Service.Storage;

/// <summary>Where records and files live. Bound from the <c>ExportJobs</c> configuration section.</summary>
public sealed class ExportStorageOptions
{
    public const string Section = "ExportJobs";

    /// <summary>Connection string of the storage account holding jobs, datasets, profiles and exports.</summary>
    [Required] public string StorageConnection { get; set; } = "";

    /// <summary>
    /// Prefix of every table and container name (letters and digits, lowercase), so several deployments or test runs
    /// can share one account. Empty in production.
    /// </summary>
    [RegularExpression("^[a-z0-9]{0,20}$")] public string NamePrefix { get; set; } = "";

    /// <summary>
    /// How many shards the profile store hashes identities into; an export runs one activity per shard.
    /// Fixed for the life of the data: profiles ingested under one count are not found under another.
    /// </summary>
    [Range(1, 4096)] public int ShardCount { get; set; } = 16;

    /// <summary>How many shard activities of one job run at once.</summary>
    [Range(1, 256)] public int MaxParallelShards { get; set; } = 8;

    /// <summary>How many times a shard activity is tried before the job fails.</summary>
    [Range(1, 10)] public int ShardAttempts { get; set; } = 3;
}
