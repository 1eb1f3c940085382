using Azure;
using ExportJobs.Core;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Segments;

/// <summary>Segment definitions in Table Storage: PartitionKey the tenant, RowKey the id, the wire JSON.</summary>
public sealed class SegmentDefinitionStore(StorageClients clients)
{
    public Task<ETag> AddAsync(Tenant tenant, SegmentDefinition definition, CancellationToken ct) =>
        RecordJson.AddAsync(clients.SegmentDefinitions, tenant.Key, definition.Id!, definition, CoreJson.Wire.SegmentDefinition, ct);

    public Task<SegmentDefinition?> GetAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.GetAsync(clients.SegmentDefinitions, tenant.Key, id, CoreJson.Wire.SegmentDefinition, ct);

    public Task<RecordJson.Versioned<SegmentDefinition>?> GetVersionedAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.GetVersionedAsync(clients.SegmentDefinitions, tenant.Key, id, CoreJson.Wire.SegmentDefinition, ct);

    /// <summary>Oldest first, then by id: a stable order for <c>start</c>/<c>limit</c> paging.</summary>
    public async Task<IReadOnlyList<SegmentDefinition>> ListAsync(Tenant tenant, CancellationToken ct) =>
        (await RecordJson.ListAsync(clients.SegmentDefinitions, tenant.Key, CoreJson.Wire.SegmentDefinition, ct))
            .OrderBy(d => d.CreationTime).ThenBy(d => d.Id, StringComparer.Ordinal).ToList();

    /// <summary>Applies <paramref name="change"/> by compare-and-swap, to the <paramref name="ifMatch"/> version when given.</summary>
    public Task<(RecordJson.ReplaceOutcome Outcome, RecordJson.Versioned<SegmentDefinition> Record)> ReplaceAsync(Tenant tenant, string id,
        Func<SegmentDefinition, SegmentDefinition> change, ETag? ifMatch, CancellationToken ct) =>
        RecordJson.ReplaceAsync(clients.SegmentDefinitions, tenant.Key, id, CoreJson.Wire.SegmentDefinition, change, ifMatch, ct);

    public Task<bool> DeleteAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.SegmentDefinitions, tenant.Key, id, ct);
}
