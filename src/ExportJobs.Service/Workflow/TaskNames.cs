namespace ExportJobs.Service.Workflow;

/// <summary>Names of the orchestrations, their activities and events: the same under Functions and the LocalHost.</summary>
public static class TaskNames
{
    public const string ExportJobOrchestrator = "ExportJobOrchestrator";
    public const string PrepareExport = "PrepareExport";
    public const string ExportShard = "ExportShard";
    public const string FinalizeExport = "FinalizeExport";
    public const string FailExport = "FailExport";
    public const string NotifyCallback = "NotifyCallback";
    public const string CancelEvent = "cancel";
    public const string CompactionOrchestrator = "CompactionOrchestrator";
    public const string CompactShard = "CompactShard";
    public const string BatchIngestedEvent = "batchIngested";
    public const string RouteShards = "RouteShards";
    public const string PrepareGraphBuild = "PrepareGraphBuild";
    public const string GraphLinks = "GraphLinks";
    public const string GraphRound = "GraphRound";
    public const string GraphGroup = "GraphGroup";
    public const string GraphRules = "GraphRules";
    public const string CompleteGraphBuild = "CompleteGraphBuild";
    public const string AbandonGraphBuild = "AbandonGraphBuild";
    public const string SegmentJobOrchestrator = "SegmentJobOrchestrator";
    public const string PrepareSegmentJob = "PrepareSegmentJob";
    public const string EvaluateShards = "EvaluateShards";
    public const string FinalizeSegmentJob = "FinalizeSegmentJob";
    public const string FailSegmentJob = "FailSegmentJob";

    /// <summary>The orchestration instance of a job; also shown as the job's <c>computeGatewayJobId.exportJob</c>.</summary>
    public static string InstanceIdOf(string orgId, string sandbox, long jobId) => $"export-{orgId}-{sandbox}-{jobId}";

    /// <summary>The orchestration instance of a segment job.</summary>
    public static string SegmentJobInstanceIdOf(string orgId, string sandbox, long jobId) => $"segment-{orgId}-{sandbox}-{jobId}";

    /// <summary>The one background compaction instance of a tenant: ingestion starts it unless it is already running.</summary>
    public static string CompactionInstanceIdOf(string orgId, string sandbox) => $"compact-{orgId}-{sandbox}";
}
