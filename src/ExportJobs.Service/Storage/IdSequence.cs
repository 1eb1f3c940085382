using Azure;
using Azure.Data.Tables;
using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage;

/// <summary>A per-tenant sequence of ids (1, 2, …), one row per kind of record, advanced with an ETag compare-and-swap.</summary>
public static class IdSequence
{
    public static async Task<long> NextAsync(TableClient sequences, Tenant tenant, string row, CancellationToken ct)
    {
        while (true)
        {
            var found = await sequences.GetEntityIfExistsAsync<TableEntity>(tenant.Key, row, cancellationToken: ct);
            try
            {
                if (!found.HasValue)
                {
                    await sequences.AddEntityAsync(new TableEntity(tenant.Key, row) { ["Last"] = 1L }, ct);
                    return 1;
                }
                long next = found.Value!.GetInt64("Last")!.Value + 1;
                await sequences.UpdateEntityAsync(new TableEntity(tenant.Key, row) { ["Last"] = next }, found.Value.ETag, TableUpdateMode.Replace, ct);
                return next;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Another request took this id first: try the next one.
            }
        }
    }
}
