using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Whether a job that reads a tenant's shards may still be running. Every read of a shard's runs is a step of an export
/// or a segment job: it lists the runs after the job's record was written, and the job ends once its reads are done. So
/// when no such job runs after a listing, no read is on a run that listing shows covered, and background compaction
/// deletes covered runs at once instead of after <see cref="ShardCompactor.CoveredGrace"/>.
/// </summary>
public interface IShardReadingJobs
{
    Task<bool> AnyRunningAsync(Tenant tenant, CancellationToken ct);
}
