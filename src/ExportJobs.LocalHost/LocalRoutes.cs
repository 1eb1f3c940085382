using ExportJobs.Service.Http;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Schedules;
using ExportJobs.Service.Segments;
using Microsoft.DurableTask.Client;

namespace ExportJobs.LocalHost;

/// <summary>The Function App's HTTP routes, mapped onto the same handlers.</summary>
public static class LocalRoutes
{
    public static IEndpointRouteBuilder MapExportJobsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/" + Routes.Prefix);

        api.MapGet(Routes.ExportJobs, (HttpRequest r, ExportJobsHandler h, CancellationToken ct) => h.ListAsync(r, ct));
        api.MapPost(Routes.ExportJobs, (HttpRequest r, ExportJobsHandler h, DurableTaskClient c, CancellationToken ct) => h.CreateAsync(r, c, ct));
        api.MapGet(Routes.ExportJob, (HttpRequest r, string id, ExportJobsHandler h, CancellationToken ct) => h.GetAsync(r, id, ct));
        api.MapDelete(Routes.ExportJob, (HttpRequest r, string id, ExportJobsHandler h, DurableTaskClient c, CancellationToken ct) => h.DeleteAsync(r, id, c, ct));

        api.MapPost(Routes.Datasets, (HttpRequest r, DatasetsHandler h, CancellationToken ct) => h.CreateAsync(r, ct));
        api.MapGet(Routes.Dataset, (HttpRequest r, string datasetId, DatasetsHandler h, CancellationToken ct) => h.GetAsync(r, datasetId, ct));
        api.MapPost(Routes.DatasetBatches, (HttpRequest r, string datasetId, DatasetsHandler h, DurableTaskClient c, CancellationToken ct) => h.IngestAsync(r, datasetId, c, ct));
        api.MapGet(Routes.DatasetBatch, (HttpRequest r, string datasetId, string batchId, DatasetsHandler h, CancellationToken ct) => h.GetBatchAsync(r, datasetId, batchId, ct));
        api.MapGet(Routes.DatasetBatchFiles, (HttpRequest r, string datasetId, string batchId, DatasetsHandler h, CancellationToken ct) => h.ListFilesAsync(r, datasetId, batchId, ct));
        api.MapGet(Routes.DatasetBatchFile, (HttpRequest r, string datasetId, string batchId, string name, DatasetsHandler h, CancellationToken ct) => h.GetFileAsync(r, datasetId, batchId, name, ct));
        api.MapGet(Routes.MergePolicies, (HttpRequest r, MergePoliciesHandler h, CancellationToken ct) => h.ListAsync(r, ct));
        api.MapPost(Routes.MergePolicies, (HttpRequest r, MergePoliciesHandler h, CancellationToken ct) => h.CreateAsync(r, ct));
        api.MapGet(Routes.MergePolicy, (HttpRequest r, string id, MergePoliciesHandler h, CancellationToken ct) => h.GetAsync(r, id, ct));
        api.MapPut(Routes.MergePolicy, (HttpRequest r, string id, MergePoliciesHandler h, CancellationToken ct) => h.UpdateAsync(r, id, ct));
        api.MapDelete(Routes.MergePolicy, (HttpRequest r, string id, MergePoliciesHandler h, CancellationToken ct) => h.DeleteAsync(r, id, ct));
        api.MapGet(Routes.OpenApiDocument, () => OpenApiDocument.Answer());
        api.MapGet(Routes.SegmentDefinitions, (HttpRequest r, SegmentDefinitionsHandler h, CancellationToken ct) => h.ListAsync(r, ct));
        api.MapPost(Routes.SegmentDefinitions, (HttpRequest r, SegmentDefinitionsHandler h, CancellationToken ct) => h.CreateAsync(r, ct));
        api.MapGet(Routes.SegmentDefinition, (HttpRequest r, string id, SegmentDefinitionsHandler h, CancellationToken ct) => h.GetAsync(r, id, ct));
        api.MapPatch(Routes.SegmentDefinition, (HttpRequest r, string id, SegmentDefinitionsHandler h, CancellationToken ct) => h.PatchAsync(r, id, ct));
        api.MapDelete(Routes.SegmentDefinition, (HttpRequest r, string id, SegmentDefinitionsHandler h, CancellationToken ct) => h.DeleteAsync(r, id, ct));

        api.MapGet(Routes.Schedules, (HttpRequest r, SchedulesHandler h, CancellationToken ct) => h.ListAsync(r, ct));
        api.MapPost(Routes.Schedules, (HttpRequest r, SchedulesHandler h, CancellationToken ct) => h.CreateAsync(r, ct));
        api.MapGet(Routes.Schedule, (HttpRequest r, string id, SchedulesHandler h, CancellationToken ct) => h.GetAsync(r, id, ct));
        api.MapPatch(Routes.Schedule, (HttpRequest r, string id, SchedulesHandler h, CancellationToken ct) => h.PatchAsync(r, id, ct));
        api.MapDelete(Routes.Schedule, (HttpRequest r, string id, SchedulesHandler h, CancellationToken ct) => h.DeleteAsync(r, id, ct));

        app.MapFallback((HttpRequest r, UnmatchedRequests unmatched) => unmatched.Answer(r));
        return app;
    }

    /// <summary>The API's routes as mapped: method and template under <see cref="Routes.Prefix"/>.</summary>
    public static IEnumerable<(string Method, string Template)> ApiRoutes(EndpointDataSource endpoints) =>
        endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null && e.RoutePattern.RawText!.TrimStart('/').StartsWith(Routes.Prefix + "/", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods
                .Select(method => (method, e.RoutePattern.RawText!.TrimStart('/')[(Routes.Prefix.Length + 1)..])));
}
