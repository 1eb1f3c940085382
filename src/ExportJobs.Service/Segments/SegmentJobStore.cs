using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Segments;

/// <summary>
/// Segment job records in Table Storage, as export jobs are kept (<see cref="JobStore"/>): PartitionKey the tenant,
/// RowKey the id inverted and zero-padded (newest first), the wire JSON, and the status and update time as columns of
/// their own for the list filter and the watchdog. Ids come from the tenant's own sequence of segment jobs.
/// </summary>
public sealed class SegmentJobStore(StorageClients clients)
{
    private const string SequenceRow = "segmentjobs";

    public async Task<SegmentJob> CreateAsync(Tenant tenant, Func<long, SegmentJob> build, CancellationToken ct)
    {
        var job = build(await IdSequence.NextAsync(clients.Sequences, tenant, SequenceRow, ct));
        await clients.SegmentJobs.AddEntityAsync(ToEntity(tenant, job), ct);
        return job;
    }

    public Task<SegmentJob?> GetAsync(Tenant tenant, long id, CancellationToken ct) =>
        RecordJson.GetAsync(clients.SegmentJobs, tenant.Key, JobStore.RowKeyOf(id), CoreJson.Wire.SegmentJob, ct);

    /// <summary>Newest first: the page of <paramref name="limit"/> jobs from offset <paramref name="start"/>, and whether more follow.</summary>
    public async Task<(IReadOnlyList<SegmentJob> Jobs, bool More)> ListAsync(Tenant tenant, int start, int limit, string? status, CancellationToken ct)
    {
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant.Key}");
        if (status is not null) filter += " and " + TableClient.CreateQueryFilter($"Status eq {status}");
        var jobs = new List<SegmentJob>(limit);
        int skipped = 0;
        await foreach (var entity in clients.SegmentJobs.QueryAsync<TableEntity>(filter, cancellationToken: ct))
        {
            if (skipped++ < start) continue;
            if (jobs.Count == limit) return (jobs, true);
            jobs.Add(RecordJson.Read(entity, CoreJson.Wire.SegmentJob));
        }
        return (jobs, false);
    }

    /// <summary>Applies <paramref name="change"/> by compare-and-swap (null leaves the job as it is); the job afterwards, or null when there is none.</summary>
    public async Task<SegmentJob?> UpdateAsync(Tenant tenant, long id, Func<SegmentJob, SegmentJob?> change, CancellationToken ct)
    {
        var (outcome, job, _) = await RecordJson.ReplaceEntityAsync(clients.SegmentJobs, tenant.Key, JobStore.RowKeyOf(id), entity =>
        {
            var current = RecordJson.Read(entity, CoreJson.Wire.SegmentJob);
            var changed = change(current);
            return (changed is null ? null : ToEntity(tenant, changed), changed ?? current);
        }, null, ct);
        return outcome is RecordJson.ReplaceOutcome.Replaced or RecordJson.ReplaceOutcome.Unchanged ? job : null;
    }

    public Task<bool> DeleteAsync(Tenant tenant, long id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.SegmentJobs, tenant.Key, JobStore.RowKeyOf(id), ct);

    /// <summary>Jobs of every tenant in one of <paramref name="statuses"/> whose record has not changed since <paramref name="updatedBeforeMs"/>.</summary>
    public Task<IReadOnlyList<(Tenant Tenant, SegmentJob Job)>> ListQuietAsync(IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct) =>
        JobStore.ListQuietAsync(clients.SegmentJobs, CoreJson.Wire.SegmentJob, statuses, updatedBeforeMs, ct);

    private static TableEntity ToEntity(Tenant tenant, SegmentJob job) => new(tenant.Key, JobStore.RowKeyOf(job.Number))
    {
        ["Status"] = job.Status,
        ["UpdateTime"] = job.UpdateTime,
        [RecordJson.Property] = RecordJson.Write(job, CoreJson.Wire.SegmentJob),
    };
}
