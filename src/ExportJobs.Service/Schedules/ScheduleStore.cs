using Azure;
using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Schedules;

/// <summary>
/// Schedules in Table Storage: PartitionKey the tenant, RowKey the id, the wire JSON, and beside it <c>Active</c> and
/// <c>NextRunMs</c> so that the timer finds due schedules of every tenant with one query.
/// </summary>
public sealed class ScheduleStore(StorageClients clients)
{
    private const string ActiveProperty = "Active";
    private const string NextRunProperty = "NextRunMs";

    /// <summary>A stored schedule with the ETag that a compare-and-swap needs.</summary>
    public sealed record Stored(Tenant Tenant, Schedule Schedule, long? NextRunMs, ETag ETag);

    public async Task<ETag> AddAsync(Tenant tenant, Schedule schedule, long? nextRunMs, CancellationToken ct) =>
        (await clients.Schedules.AddEntityAsync(ToEntity(tenant, schedule, nextRunMs), ct)).Headers.ETag ?? default;

    public async Task<Stored?> GetAsync(Tenant tenant, string id, CancellationToken ct)
    {
        var found = await clients.Schedules.GetEntityIfExistsAsync<TableEntity>(tenant.Key, id, cancellationToken: ct);
        return found.HasValue ? FromEntity(tenant, found.Value!) : null;
    }

    public async Task<IReadOnlyList<Schedule>> ListAsync(Tenant tenant, CancellationToken ct) =>
        (await RecordJson.ListAsync(clients.Schedules, tenant.Key, CoreJson.Wire.Schedule, ct))
            .OrderBy(s => s.CreateEpoch).ThenBy(s => s.Id, StringComparer.Ordinal).ToList();

    /// <summary>Replaces a schedule if nobody wrote it since <paramref name="etag"/>; its new ETag, or null when someone did.</summary>
    public async Task<ETag?> TryReplaceAsync(Tenant tenant, Schedule schedule, long? nextRunMs, ETag etag, CancellationToken ct)
    {
        try
        {
            return (await clients.Schedules.UpdateEntityAsync(ToEntity(tenant, schedule, nextRunMs), etag, TableUpdateMode.Replace, ct)).Headers.ETag ?? default;
        }
        catch (RequestFailedException e) when (e.Status is 412 or 404)
        {
            return null;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> by compare-and-swap, retrying a lost race — or, with <paramref name="ifMatch"/>,
    /// only to that version (<see cref="RecordJson.ReplaceOutcome.Stale"/> otherwise).
    /// </summary>
    public async Task<(RecordJson.ReplaceOutcome Outcome, ETag ETag)> UpdateAsync(Tenant tenant, string id, Func<Stored, (Schedule Schedule, long? NextRunMs)> change,
        CancellationToken ct, ETag? ifMatch = null)
    {
        var (outcome, _, etag) = await RecordJson.ReplaceEntityAsync(clients.Schedules, tenant.Key, id, entity =>
        {
            var (schedule, nextRunMs) = change(FromEntity(tenant, entity));
            return (ToEntity(tenant, schedule, nextRunMs), true);
        }, ifMatch, ct);
        return (outcome, etag);
    }

    public Task<bool> DeleteAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.Schedules, tenant.Key, id, ct);

    /// <summary>Active schedules of every tenant whose next run is at or before <paramref name="nowMs"/>.</summary>
    public async Task<IReadOnlyList<Stored>> ListDueAsync(long nowMs, CancellationToken ct)
    {
        var due = new List<Stored>();
        string filter = TableClient.CreateQueryFilter($"Active eq {true} and NextRunMs le {nowMs}");
        await foreach (var entity in clients.Schedules.QueryAsync<TableEntity>(filter, cancellationToken: ct))
        {
            string[] tenant = entity.PartitionKey.Split('|');
            due.Add(FromEntity(new Tenant(tenant[0], tenant[1]), entity));
        }
        return due;
    }

    private static TableEntity ToEntity(Tenant tenant, Schedule schedule, long? nextRunMs) => new(tenant.Key, schedule.Id)
    {
        [ActiveProperty] = schedule.State == ScheduleStates.Active && nextRunMs is not null,
        [NextRunProperty] = nextRunMs,
        [RecordJson.Property] = RecordJson.Write(schedule, CoreJson.Wire.Schedule),
    };

    private static Stored FromEntity(Tenant tenant, TableEntity entity) =>
        new(tenant, RecordJson.Read(entity, CoreJson.Wire.Schedule), entity.GetInt64(NextRunProperty), entity.ETag);
}
