namespace ExportJobs.Service.Workflow;

/// <summary>The <c>errors[].code</c> values a job can show.</summary>
public static class ExportErrorCodes
{
    public const string StepFailed = "EXPORT_STEP_FAILED";
    public const string ScheduleFailed = "EXPORT_SCHEDULE_FAILED";
    /// <summary>The watchdog found the job without progress, its orchestration gone, ended or stuck.</summary>
    public const string Stalled = "EXPORT_STALLED";
}
