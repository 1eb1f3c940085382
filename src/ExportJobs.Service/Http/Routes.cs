namespace ExportJobs.Service.Http;

/// <summary>
/// Route templates from the root (host.json's <c>extensions.http.routePrefix</c> is empty): the same on the Function
/// App and the LocalHost. The API's are under <see cref="Prefix"/>; the console is at <see cref="Console"/>.
/// </summary>
public static class Routes
{
    /// <summary>The base path of every API route.</summary>
    public const string Prefix = "data/core/ups";

    /// <summary>The operations console's static files (docs/console.md).</summary>
    public const string Console = "console/{*path}";

    public const string ExportJobs = Prefix + "/export/jobs";
    public const string ExportJob = Prefix + "/export/jobs/{id}";
    public const string Datasets = Prefix + "/datasets";
    public const string Dataset = Prefix + "/datasets/{datasetId}";
    public const string DatasetBatches = Prefix + "/datasets/{datasetId}/batches";
    public const string DatasetBatch = Prefix + "/datasets/{datasetId}/batches/{batchId}";
    public const string DatasetBatchFiles = Prefix + "/datasets/{datasetId}/batches/{batchId}/files";
    public const string DatasetBatchFile = Prefix + "/datasets/{datasetId}/batches/{batchId}/files/{name}";
    public const string MergePolicies = Prefix + "/config/mergePolicies";
    public const string MergePolicy = Prefix + "/config/mergePolicies/{id}";
    public const string IdentitySettings = Prefix + "/config/identitySettings";
    public const string Schedules = Prefix + "/config/schedules";
    public const string Schedule = Prefix + "/config/schedules/{id}";
    public const string OpenApiDocument = Prefix + "/openapi.json";
    public const string SegmentDefinitions = Prefix + "/segment/definitions";
    public const string SegmentDefinition = Prefix + "/segment/definitions/{id}";
    public const string SegmentJobs = Prefix + "/segment/jobs";
    public const string SegmentJob = Prefix + "/segment/jobs/{id}";
}
