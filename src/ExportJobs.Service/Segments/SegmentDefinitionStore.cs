using Azure;
using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Segments;

/// <summary>Segment definitions in Table Storage: PartitionKey the tenant, RowKey the id, the wire JSON.</summary>
public sealed class SegmentDefinitionStore(StorageClients clients)
{
    public Task AddAsync(Tenant tenant, SegmentDefinition definition, CancellationToken ct) =>
        clients.SegmentDefinitions.AddEntityAsync(ToEntity(tenant, definition), ct);

    public Task<SegmentDefinition?> GetAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.GetAsync(clients.SegmentDefinitions, tenant.Key, id, CoreJson.Wire.SegmentDefinition, ct);

    /// <summary>Oldest first, then by id: a stable order for <c>start</c>/<c>limit</c> paging.</summary>
    public async Task<IReadOnlyList<SegmentDefinition>> ListAsync(Tenant tenant, CancellationToken ct) =>
        (await RecordJson.ListAsync(clients.SegmentDefinitions, tenant.Key, CoreJson.Wire.SegmentDefinition, ct))
            .OrderBy(d => d.CreationTime).ThenBy(d => d.Id, StringComparer.Ordinal).ToList();

    /// <summary>Applies <paramref name="change"/> with optimistic concurrency, retrying a lost race; null when there is no such definition.</summary>
    public async Task<SegmentDefinition?> UpdateAsync(Tenant tenant, string id, Func<SegmentDefinition, SegmentDefinition> change, CancellationToken ct)
    {
        while (true)
        {
            var found = await clients.SegmentDefinitions.GetEntityIfExistsAsync<TableEntity>(tenant.Key, id, cancellationToken: ct);
            if (!found.HasValue) return null;
            var updated = change(RecordJson.Read(found.Value!, CoreJson.Wire.SegmentDefinition));
            try
            {
                await clients.SegmentDefinitions.UpdateEntityAsync(ToEntity(tenant, updated), found.Value!.ETag, TableUpdateMode.Replace, ct);
                return updated;
            }
            catch (RequestFailedException e) when (e.Status is 412 or 404)
            {
                // Someone wrote it in between (or deleted it): read again.
            }
        }
    }

    public Task<bool> DeleteAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.SegmentDefinitions, tenant.Key, id, ct);

    private static TableEntity ToEntity(Tenant tenant, SegmentDefinition definition) => new(tenant.Key, definition.Id)
    {
        [RecordJson.Property] = RecordJson.Write(definition, CoreJson.Wire.SegmentDefinition),
    };
}
