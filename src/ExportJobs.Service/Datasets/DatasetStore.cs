using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Datasets;

/// <summary>Dataset and batch records in Table Storage, partitioned by tenant (and by dataset for batches).</summary>
public sealed class DatasetStore(StorageClients clients)
{
    public Task SaveAsync(Tenant tenant, Dataset dataset, CancellationToken ct) =>
        RecordJson.SaveAsync(clients.Datasets, tenant.Key, dataset.Id, dataset, CoreJson.Wire.Dataset, ct);

    public Task<Dataset?> GetAsync(Tenant tenant, string datasetId, CancellationToken ct) =>
        RecordJson.GetAsync(clients.Datasets, tenant.Key, datasetId, CoreJson.Wire.Dataset, ct);

    public async Task<IReadOnlyList<Dataset>> ListAsync(Tenant tenant, CancellationToken ct) =>
        await RecordJson.ListAsync(clients.Datasets, tenant.Key, CoreJson.Wire.Dataset, ct);

    public Task SaveBatchAsync(Tenant tenant, DatasetBatch batch, CancellationToken ct) =>
        RecordJson.SaveAsync(clients.Batches, BatchPartition(tenant, batch.DatasetId), batch.Id, batch, CoreJson.Wire.DatasetBatch, ct);

    public Task<DatasetBatch?> GetBatchAsync(Tenant tenant, string datasetId, string batchId, CancellationToken ct) =>
        RecordJson.GetAsync(clients.Batches, BatchPartition(tenant, datasetId), batchId, CoreJson.Wire.DatasetBatch, ct);

    public async Task<IReadOnlyList<DatasetBatch>> ListBatchesAsync(Tenant tenant, string datasetId, CancellationToken ct) =>
        await RecordJson.ListAsync(clients.Batches, BatchPartition(tenant, datasetId), CoreJson.Wire.DatasetBatch, ct);

    private static string BatchPartition(Tenant tenant, string datasetId) => $"{tenant.Key}|{datasetId}";
}
