using System.Security.Cryptography;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Idempotency;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Datasets;

/// <summary>Datasets and their batches: create a dataset, ingest NDJSON profile records into it, read both back.</summary>
public sealed class DatasetsHandler(
    ApiRequests api,
    DatasetStore datasets,
    BatchIngestor ingestor,
    DatasetBatchFiles batchFiles,
    IOptions<ApiLimitsOptions> limits,
    TimeProvider time)
{
    public Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.DatasetRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var problems = DatasetRequestValidator.Validate(body);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var dataset = new Dataset
        {
            Id = Ids.NewDatasetId(),
            Name = body.Name!,
            Schema = body.Schema!,
            ProfileEnabled = body.ProfileEnabled ?? false,
            ImsOrgId = tenant.OrgId,
            SandboxName = tenant.Sandbox,
            Created = now,
            Updated = now,
        };
        await datasets.SaveAsync(tenant, dataset, ct);
        return Results.Json(dataset, CoreJson.Wire.Dataset, statusCode: StatusCodes.Status201Created);
    });

    /// <summary>Extension: the sandbox's datasets, newest first, as <c>{datasets: […]}</c>.</summary>
    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
        Results.Json(new DatasetList([.. (await datasets.ListAsync(tenant, ct)).OrderByDescending(d => d.Created).ThenBy(d => d.Id, StringComparer.Ordinal)]),
            CoreJson.Wire.DatasetList));

    /// <summary>Extension: a dataset's batches, newest first, at most <c>limit</c> (1 to 100, 20), as <c>{batches: […]}</c>.</summary>
    public Task<IResult> ListBatchesAsync(HttpRequest request, string datasetId, CancellationToken ct) => api.RunAsync(request, RouteIds.Dataset(datasetId), async (tenant, _) =>
    {
        var (_, limit, pageProblem) = RequestReading.ReadOffsetPage(request, 20, 100);
        if (pageProblem is not null) return pageProblem;
        if (await datasets.GetAsync(tenant, datasetId, ct) is null) return DatasetNotFound(datasetId);
        var batches = (await datasets.ListBatchesAsync(tenant, datasetId, ct)).OrderByDescending(b => b.Created).ThenBy(b => b.Id, StringComparer.Ordinal).Take(limit).ToList();
        return Results.Json(new DatasetBatchList(batches), CoreJson.Wire.DatasetBatchList);
    });

    public Task<IResult> GetAsync(HttpRequest request, string datasetId, CancellationToken ct) => api.RunAsync(request, RouteIds.Dataset(datasetId), async (tenant, _) =>
    {
        var dataset = await datasets.GetAsync(tenant, datasetId, ct);
        return dataset is null ? DatasetNotFound(datasetId) : Results.Json(dataset, CoreJson.Wire.Dataset);
    });

    /// <summary>Ingests an NDJSON body into a profile-enabled dataset of the sandbox (<see cref="BatchIngestor"/>).</summary>
    public Task<IResult> IngestAsync(HttpRequest request, string datasetId, DurableTaskClient client, CancellationToken ct) => api.RunAsync(request, RouteIds.Dataset(datasetId), async (tenant, _) =>
    {
        var dataset = await datasets.GetAsync(tenant, datasetId, ct);
        if (dataset is null) return DatasetNotFound(datasetId);
        if (!dataset.ProfileEnabled)
            return Problems.Invalid("datasetId", $"Dataset '{datasetId}' does not feed the profile store (profileEnabled: false); only profile datasets take ingestion.");
        if (!RequestReading.TryGetIdempotencyKey(request, out string? key, out var keyProblem)) return keyProblem!;
        var (body, bodyProblem) = RequestReading.OpenNdjson(request, limits.Value.MaxIngestBodyBytes);
        if (body is null) return bodyProblem!;

        return await ingestor.IngestAsync(tenant, dataset, body, key, client, ct);
    });

    public Task<IResult> GetBatchAsync(HttpRequest request, string datasetId, string batchId, CancellationToken ct) =>
        api.RunAsync(request, RouteIds.Dataset(datasetId), RouteIds.Batch(batchId), async (tenant, _, _) =>
            await datasets.GetBatchAsync(tenant, datasetId, batchId, ct) is { } batch
                ? Results.Json(batch, CoreJson.Wire.DatasetBatch)
                : BatchNotFound(datasetId, batchId));

    /// <summary>The files of an export batch: <c>{files: [{name, bytes, md5, href}]}</c>, each downloadable at its <c>href</c>.</summary>
    public Task<IResult> ListFilesAsync(HttpRequest request, string datasetId, string batchId, CancellationToken ct) =>
        api.RunAsync(request, RouteIds.Dataset(datasetId), RouteIds.Batch(batchId), async (tenant, _, _) =>
        {
            if (await datasets.GetBatchAsync(tenant, datasetId, batchId, ct) is null) return BatchNotFound(datasetId, batchId);
            var files = await batchFiles.ListAsync(tenant, datasetId, batchId, ct);
            return Results.Json(new BatchFileList(files.Select(f => new BatchFile(f.Name, f.Size, f.Md5, $"/datasets/{datasetId}/batches/{batchId}/files/{f.Name}")).ToList()),
                CoreJson.Wire.BatchFileList);
        });

    public Task<IResult> GetFileAsync(HttpRequest request, string datasetId, string batchId, string name, CancellationToken ct) =>
        api.RunAsync(request, RouteIds.Dataset(datasetId), RouteIds.Batch(batchId), async (tenant, _, _) =>
        {
            if (!DatasetBatchFiles.IsFileName(name)) return Problems.Invalid("name", "A batch file is manifest.json or part-NNNNN-NNNNN.parquet.");
            if (await datasets.GetBatchAsync(tenant, datasetId, batchId, ct) is null) return BatchNotFound(datasetId, batchId);
            var stream = await batchFiles.OpenReadAsync(tenant, datasetId, batchId, name, ct);
            if (stream is null) return Problems.NotFound("name", $"Batch '{batchId}' has no file '{name}'.");
            return Results.Stream(stream, name.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "application/vnd.apache.parquet", name);
        });

    private static IResult BatchNotFound(string datasetId, string batchId) =>
        Problems.NotFound("batchId", $"Dataset '{datasetId}' has no batch '{batchId}' in this sandbox.");

    private static IResult DatasetNotFound(string datasetId) => Problems.NotFound("datasetId", $"There is no dataset '{datasetId}' in this sandbox.");
}
