using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage;

/// <summary>Dataset and batch records in Table Storage, partitioned by tenant (and by dataset for batches).</summary>
public sealed class DatasetStore(StorageClients clients)
{
    public async Task SaveAsync(Tenant tenant, Dataset dataset, CancellationToken ct) =>
        await clients.Datasets.UpsertEntityAsync(new TableEntity(tenant.Key, dataset.Id)
        {
            [RecordJson.Property] = RecordJson.Write(dataset, CoreJson.Wire.Dataset),
        }, TableUpdateMode.Replace, ct);

    public async Task<Dataset?> GetAsync(Tenant tenant, string datasetId, CancellationToken ct)
    {
        var found = await clients.Datasets.GetEntityIfExistsAsync<TableEntity>(tenant.Key, datasetId, cancellationToken: ct);
        return found.HasValue ? RecordJson.Read(found.Value!, CoreJson.Wire.Dataset) : null;
    }

    public async Task<IReadOnlyList<Dataset>> ListAsync(Tenant tenant, CancellationToken ct)
    {
        var list = new List<Dataset>();
        string filter = TableClient.CreateQueryFilter($"PartitionKey eq {tenant.Key}");
        await foreach (var entity in clients.Datasets.QueryAsync<TableEntity>(filter, cancellationToken: ct))
            list.Add(RecordJson.Read(entity, CoreJson.Wire.Dataset));
        return list;
    }

    public async Task SaveBatchAsync(Tenant tenant, DatasetBatch batch, CancellationToken ct) =>
        await clients.Batches.UpsertEntityAsync(new TableEntity(BatchPartition(tenant, batch.DatasetId), batch.Id)
        {
            [RecordJson.Property] = RecordJson.Write(batch, CoreJson.Wire.DatasetBatch),
        }, TableUpdateMode.Replace, ct);

    public async Task<DatasetBatch?> GetBatchAsync(Tenant tenant, string datasetId, string batchId, CancellationToken ct)
    {
        var found = await clients.Batches.GetEntityIfExistsAsync<TableEntity>(BatchPartition(tenant, datasetId), batchId, cancellationToken: ct);
        return found.HasValue ? RecordJson.Read(found.Value!, CoreJson.Wire.DatasetBatch) : null;
    }

    private static string BatchPartition(Tenant tenant, string datasetId) => $"{tenant.Key}|{datasetId}";
}
