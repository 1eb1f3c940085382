using Azure.Data.Tables;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Jobs;

/// <summary>The tenant's export and segment jobs not yet in a final status, from their tables (<see cref="IShardReadingJobs"/>).</summary>
public sealed class RunningJobs(StorageClients clients) : IShardReadingJobs
{
    private static readonly string NotEnded = JobStore.AnyStatus(JobStatus.All.Where(s => !JobStatus.IsTerminal(s)).Order(StringComparer.Ordinal));

    public async Task<bool> AnyRunningAsync(Tenant tenant, CancellationToken ct)
    {
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant.Key}") + $" and ({NotEnded})";
        foreach (var table in new[] { clients.Jobs, clients.SegmentJobs })
            await foreach (var _ in table.QueryAsync<TableEntity>(filter, maxPerPage: 1, select: ["PartitionKey"], cancellationToken: ct))
                return true;
        return false;
    }
}
