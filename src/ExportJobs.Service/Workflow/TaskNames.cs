namespace ExportJobs.Service.Workflow;

/// <summary>Names of the orchestration, its activities and its event: the same under Functions and the LocalHost.</summary>
public static class TaskNames
{
    public const string ExportJobOrchestrator = "ExportJobOrchestrator";
    public const string PrepareExport = "PrepareExport";
    public const string ExportShard = "ExportShard";
    public const string FinalizeExport = "FinalizeExport";
    public const string FailExport = "FailExport";
    public const string NotifyCallback = "NotifyCallback";
    public const string CancelEvent = "cancel";

    /// <summary>The orchestration instance of a job; also shown as the job's <c>computeGatewayJobId.exportJob</c>.</summary>
    public static string InstanceIdOf(string orgId, string sandbox, long jobId) => $"export-{orgId}-{sandbox}-{jobId}";
}
