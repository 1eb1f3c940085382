using System.Globalization;
using System.Text.Json.Serialization.Metadata;
using Azure;
using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Jobs;

/// <summary>
/// Export job records in Table Storage. PartitionKey is the tenant; RowKey the id inverted and zero-padded, so a plain
/// range query returns the newest job first and a point read finds a job by id. Ids come from a per-tenant sequence
/// advanced with an ETag compare-and-swap. Status, times and the schedule are columns of their own, for the filters.
/// </summary>
public sealed class JobStore(StorageClients clients)
{
    private const string SequenceRow = "exportjobs";

    public static string RowKeyOf(long id) => (long.MaxValue - id).ToString("D19", CultureInfo.InvariantCulture);

    /// <summary>What is kept beside a job and never shown in its JSON.</summary>
    public enum Hidden { OutputSchema, CallbackSecret, SegmentExpressions }

    /// <summary>Creates a job with the next id, with what is kept beside it (the schema of its rows, its callback's secret).</summary>
    public async Task<ExportJob> CreateAsync(Tenant tenant, Func<long, ExportJob> build, CancellationToken ct, IReadOnlyDictionary<Hidden, string>? hidden = null)
    {
        long id = await IdSequence.NextAsync(clients.Sequences, tenant, SequenceRow, ct);
        var job = build(id);
        var entity = ToEntity(tenant, job);
        foreach (var (name, value) in hidden ?? new Dictionary<Hidden, string>()) entity[name.ToString()] = value;
        await clients.Jobs.AddEntityAsync(entity, ct);
        return job;
    }

    /// <summary>A value kept beside the job; null when there is none.</summary>
    public async Task<string?> GetHiddenAsync(Tenant tenant, long id, Hidden name, CancellationToken ct) =>
        (await GetHiddenAsync(tenant, id, [name], ct)).GetValueOrDefault(name);

    /// <summary>Values kept beside the job, in one read; those it does not have are absent.</summary>
    public async Task<IReadOnlyDictionary<Hidden, string>> GetHiddenAsync(Tenant tenant, long id, Hidden[] names, CancellationToken ct)
    {
        var found = await clients.Jobs.GetEntityIfExistsAsync<TableEntity>(tenant.Key, RowKeyOf(id), names.Select(n => n.ToString()), ct);
        return found.HasValue ? HiddenOf(found.Value!, names) : new Dictionary<Hidden, string>();
    }

    /// <summary>A job and values kept beside it, in one read (those it does not have are absent); null when there is no such job.</summary>
    public async Task<(ExportJob Job, IReadOnlyDictionary<Hidden, string> Hidden)?> GetWithHiddenAsync(Tenant tenant, long id, Hidden[] names, CancellationToken ct)
    {
        var found = await clients.Jobs.GetEntityIfExistsAsync<TableEntity>(tenant.Key, RowKeyOf(id), cancellationToken: ct);
        return found.HasValue ? (RecordJson.Read(found.Value!, CoreJson.Wire.ExportJob), HiddenOf(found.Value!, names)) : null;
    }

    private static Dictionary<Hidden, string> HiddenOf(TableEntity entity, Hidden[] names)
    {
        var values = new Dictionary<Hidden, string>();
        foreach (var name in names)
            if (entity.GetString(name.ToString()) is { } value) values[name] = value;
        return values;
    }

    public Task<ExportJob?> GetAsync(Tenant tenant, long id, CancellationToken ct) =>
        RecordJson.GetAsync(clients.Jobs, tenant.Key, RowKeyOf(id), CoreJson.Wire.ExportJob, ct);

    /// <summary>Newest first; at most <c>query.Limit</c> jobs, and whether more follow.</summary>
    public async Task<(IReadOnlyList<ExportJob> Jobs, bool More)> ListAsync(Tenant tenant, JobListQuery query, CancellationToken ct)
    {
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant.Key}");
        if (query.After is { } after) filter += " and " + TableClient.CreateQueryFilter($"RowKey gt {RowKeyOf(after.JobId)}");
        if (query.Status is { } status) filter += " and " + TableClient.CreateQueryFilter($"Status eq {status}");

        var jobs = new List<ExportJob>(query.Limit);
        await foreach (var entity in clients.Jobs.QueryAsync<TableEntity>(filter, maxPerPage: query.Limit + 1, cancellationToken: ct))
        {
            if (jobs.Count == query.Limit) return (jobs, true);
            jobs.Add(RecordJson.Read(entity, CoreJson.Wire.ExportJob));
        }
        return (jobs, false);
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the stored job with optimistic concurrency, retrying on a lost race.
    /// A change returning null leaves the job as it is. Returns the stored job afterwards, or null if there is none.
    /// </summary>
    public async Task<ExportJob?> UpdateAsync(Tenant tenant, long id, Func<ExportJob, ExportJob?> change, CancellationToken ct)
    {
        while (true)
        {
            var found = await clients.Jobs.GetEntityIfExistsAsync<TableEntity>(tenant.Key, RowKeyOf(id), cancellationToken: ct);
            if (!found.HasValue) return null;
            var current = RecordJson.Read(found.Value!, CoreJson.Wire.ExportJob);
            var changed = change(current);
            if (changed is null) return current;
            try
            {
                // Merge, so that what is kept beside the job (Hidden) stays.
                await clients.Jobs.UpdateEntityAsync(ToEntity(tenant, changed), found.Value!.ETag, TableUpdateMode.Merge, ct);
                return changed;
            }
            catch (RequestFailedException e) when (e.Status == 412)
            {
                // Someone else wrote the job in between: read it again and re-apply the change.
            }
        }
    }

    public Task<bool> DeleteAsync(Tenant tenant, long id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.Jobs, tenant.Key, RowKeyOf(id), ct);

    /// <summary>Jobs of every tenant in one of <paramref name="statuses"/> whose record has not changed since <paramref name="updatedBeforeMs"/>.</summary>
    public Task<IReadOnlyList<(Tenant Tenant, ExportJob Job)>> ListQuietAsync(IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct) =>
        ListQuietAsync(clients.Jobs, CoreJson.Wire.ExportJob, statuses, updatedBeforeMs, ct);

    /// <summary>
    /// The records of a table of jobs (PartitionKey the tenant, <c>Status</c> and <c>UpdateTime</c> columns), of every
    /// tenant, in one of <paramref name="statuses"/> and unchanged since <paramref name="updatedBeforeMs"/>.
    /// </summary>
    public static async Task<IReadOnlyList<(Tenant Tenant, T Job)>> ListQuietAsync<T>(TableClient table, JsonTypeInfo<T> type,
        IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct)
    {
        string filter = $"({AnyStatus(statuses)}) and " + TableClient.CreateQueryFilter($"UpdateTime le {updatedBeforeMs}");
        var found = new List<(Tenant, T)>();
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, cancellationToken: ct))
        {
            string[] tenant = entity.PartitionKey.Split('|');
            found.Add((new Tenant(tenant[0], tenant[1]), RecordJson.Read(entity, type)));
        }
        return found;
    }

    /// <summary>The filter of a table of jobs' records in any of <paramref name="statuses"/>.</summary>
    internal static string AnyStatus(IEnumerable<string> statuses) =>
        string.Join(" or ", statuses.Select(s => TableClient.CreateQueryFilter($"Status eq {s}")));

    /// <summary>The newest job of a schedule that succeeded, if any.</summary>
    public async Task<ExportJob?> LatestSucceededAsync(Tenant tenant, string scheduleId, CancellationToken ct)
    {
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant.Key} and ScheduleId eq {scheduleId} and Status eq {JobStatus.Succeeded}");
        await foreach (var entity in clients.Jobs.QueryAsync<TableEntity>(filter, maxPerPage: 1, cancellationToken: ct))
            return RecordJson.Read(entity, CoreJson.Wire.ExportJob);
        return null;
    }

    private static TableEntity ToEntity(Tenant tenant, ExportJob job)
    {
        var entity = new TableEntity(tenant.Key, RowKeyOf(job.Id))
        {
            ["Status"] = job.Status,
            ["CreationTime"] = job.CreationTime,
            ["UpdateTime"] = job.UpdateTime,
            [RecordJson.Property] = RecordJson.Write(job, CoreJson.Wire.ExportJob),
        };
        if (job.ScheduleId is not null) entity["ScheduleId"] = job.ScheduleId;
        return entity;
    }
}
