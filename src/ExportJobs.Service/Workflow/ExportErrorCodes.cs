namespace ExportJobs.Service.Workflow;

/// <summary>The <c>errors[].code</c> values a job can show.</summary>
public static class ExportErrorCodes
{
    public const string StepFailed = "EXPORT_STEP_FAILED";
    public const string ScheduleFailed = "EXPORT_SCHEDULE_FAILED";
    /// <summary>The watchdog found the job without progress, its orchestration gone, ended or stuck.</summary>
    public const string Stalled = "EXPORT_STALLED";
    /// <summary>Segment evaluation went past the job's budget (<c>ExportJobs:EvaluationBudget</c>).</summary>
    public const string EvaluationBudgetExceeded = "SEGMENT_EVALUATION_BUDGET_EXCEEDED";
}
