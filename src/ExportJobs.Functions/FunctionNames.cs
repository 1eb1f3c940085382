namespace ExportJobs.Functions;

/// <summary>Names of the HTTP functions (the orchestration and activity names are <see cref="Service.Workflow.TaskNames"/>).</summary>
public static class FunctionNames
{
    public const string ListExportJobs = "ListExportJobs";
    public const string CreateExportJob = "CreateExportJob";
    public const string GetExportJob = "GetExportJob";
    public const string DeleteExportJob = "DeleteExportJob";
    public const string ListDatasets = "ListDatasets";
    public const string CreateDataset = "CreateDataset";
    public const string ListBatches = "ListBatches";
    public const string GetDataset = "GetDataset";
    public const string IngestBatch = "IngestBatch";
    public const string GetBatch = "GetBatch";
    public const string ListBatchFiles = "ListBatchFiles";
    public const string GetBatchFile = "GetBatchFile";
    public const string ListMergePolicies = "ListMergePolicies";
    public const string CreateMergePolicy = "CreateMergePolicy";
    public const string GetMergePolicy = "GetMergePolicy";
    public const string UpdateMergePolicy = "UpdateMergePolicy";
    public const string DeleteMergePolicy = "DeleteMergePolicy";
    public const string GetIdentitySettings = "GetIdentitySettings";
    public const string PutIdentitySettings = "PutIdentitySettings";
    public const string GetOpenApiDocument = "GetOpenApiDocument";
    public const string ListSegmentDefinitions = "ListSegmentDefinitions";
    public const string CreateSegmentDefinition = "CreateSegmentDefinition";
    public const string GetSegmentDefinition = "GetSegmentDefinition";
    public const string PatchSegmentDefinition = "PatchSegmentDefinition";
    public const string DeleteSegmentDefinition = "DeleteSegmentDefinition";
    public const string ListSegmentJobs = "ListSegmentJobs";
    public const string CreateSegmentJob = "CreateSegmentJob";
    public const string GetSegmentJob = "GetSegmentJob";
    public const string DeleteSegmentJob = "DeleteSegmentJob";
    public const string ListSchedules = "ListSchedules";
    public const string CreateSchedule = "CreateSchedule";
    public const string GetSchedule = "GetSchedule";
    public const string PatchSchedule = "PatchSchedule";
    public const string DeleteSchedule = "DeleteSchedule";
    public const string RunDueSchedules = "RunDueSchedules";
    public const string RunWatchdog = "RunWatchdog";
    public const string AnswerUnmatched = "AnswerUnmatched";
    public const string GetConsoleFile = "GetConsoleFile";
}
