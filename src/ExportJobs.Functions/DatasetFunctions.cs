using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.Service.Storage.Output;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Functions;

/// <summary>The dataset and batch HTTP functions: adapters onto <see cref="DatasetsHandler"/>.</summary>
public sealed class DatasetFunctions(DatasetsHandler handler)
{
    [Function(FunctionNames.ListDatasets)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Datasets)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.ListBatches)]
    public Task<IActionResult> ListBatches(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DatasetBatches)] HttpRequest request,
        string datasetId,
        CancellationToken ct) => handler.ListBatchesAsync(request, datasetId, ct).AsAction();

    [Function(FunctionNames.CreateDataset)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Datasets)] HttpRequest request,
        CancellationToken ct) => handler.CreateAsync(request, ct).AsAction();

    [Function(FunctionNames.GetDataset)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Dataset)] HttpRequest request,
        string datasetId,
        CancellationToken ct) => handler.GetAsync(request, datasetId, ct).AsAction();

    [Function(FunctionNames.IngestBatch)]
    public Task<IActionResult> Ingest(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.DatasetBatches)] HttpRequest request,
        string datasetId,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => handler.IngestAsync(request, datasetId, client, ct).AsAction();

    [Function(FunctionNames.GetBatch)]
    public Task<IActionResult> GetBatch(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DatasetBatch)] HttpRequest request,
        string datasetId,
        string batchId,
        CancellationToken ct) => handler.GetBatchAsync(request, datasetId, batchId, ct).AsAction();

    [Function(FunctionNames.ListBatchFiles)]
    public Task<IActionResult> ListFiles(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DatasetBatchFiles)] HttpRequest request,
        string datasetId,
        string batchId,
        CancellationToken ct) => handler.ListFilesAsync(request, datasetId, batchId, ct).AsAction();

    [Function(FunctionNames.GetBatchFile)]
    public Task<IActionResult> GetFile(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.DatasetBatchFile)] HttpRequest request,
        string datasetId,
        string batchId,
        string name,
        CancellationToken ct) => handler.GetFileAsync(request, datasetId, batchId, name, ct).AsAction();
}
