using ExportJobs.Service.Storage.Output;
namespace ExportJobs.Service.Http;

/// <summary>Route templates, relative to <see cref="Prefix"/>: the same on the Function App and the LocalHost.</summary>
public static class Routes
{
    /// <summary>The base path of every route (host.json's <c>extensions.http.routePrefix</c> on Functions).</summary>
    public const string Prefix = "data/core/ups";

    public const string ExportJobs = "export/jobs";
    public const string ExportJob = "export/jobs/{id}";
    public const string Datasets = "datasets";
    public const string Dataset = "datasets/{datasetId}";
    public const string DatasetBatches = "datasets/{datasetId}/batches";
    public const string DatasetBatch = "datasets/{datasetId}/batches/{batchId}";
    public const string DatasetBatchFiles = "datasets/{datasetId}/batches/{batchId}/files";
    public const string DatasetBatchFile = "datasets/{datasetId}/batches/{batchId}/files/{name}";
    public const string MergePolicies = "config/mergePolicies";
    public const string MergePolicy = "config/mergePolicies/{id}";
    public const string IdentitySettings = "config/identitySettings";
    public const string Schedules = "config/schedules";
    public const string Schedule = "config/schedules/{id}";
    public const string OpenApiDocument = "openapi.json";
    public const string SegmentDefinitions = "segment/definitions";
    public const string SegmentDefinition = "segment/definitions/{id}";
    public const string SegmentJobs = "segment/jobs";
    public const string SegmentJob = "segment/jobs/{id}";
}
