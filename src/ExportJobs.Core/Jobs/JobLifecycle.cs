namespace ExportJobs.Core.Jobs;

/// <summary>
/// The only way an export job changes status. Each transition is checked against the moves <see cref="JobStatus"/>
/// allows and returns the job in its new state, or null when the job cannot make that move from where it is (its caller
/// then writes nothing). The stores apply a transition by compare-and-swap, so it is checked against the job as stored.
/// </summary>
public static class JobLifecycle
{
    /// <summary>NEW → PROCESSING, with progress 0 of <paramref name="shards"/>.</summary>
    public static ExportJob? Start(this ExportJob job, long now, int shards) =>
        Move(job, JobStatus.Processing, now) is { } started
            ? started with { Metrics = (job.Metrics ?? new JobMetrics()) with { Progress = new JobProgress(0, shards) } }
            : null;

    /// <summary>
    /// <paramref name="shards"/> shards finished while PROCESSING: progress counts them (capped, as a shard run again
    /// after a crash counts twice) and the update time moves, which the watchdog reads as a sign of life. No status change.
    /// </summary>
    public static ExportJob? ShardsDone(this ExportJob job, long now, int shards = 1) =>
        job.Status == JobStatus.Processing && job.Metrics?.Progress is { } progress
            ? job with
            {
                UpdateTime = now,
                Metrics = job.Metrics with { Progress = progress with { ShardsDone = Math.Min(progress.ShardsDone + shards, progress.Shards) } },
            }
            : null;

    /// <summary>A NEW job looked at again (the watchdog re-drives it): only its update time moves.</summary>
    public static ExportJob? Touch(this ExportJob job, long now) =>
        job.Status == JobStatus.New ? job with { UpdateTime = now } : null;

    /// <summary>PROCESSING → SUCCEEDED with its figures; its total time ends.</summary>
    public static ExportJob? Succeed(this ExportJob job, long now, JobMetrics metrics) =>
        Move(job, JobStatus.Succeeded, now) is { } done ? done with { Metrics = metrics with { TotalTime = Timing.Started(job.CreationTime).EndedAt(now) } } : null;

    /// <summary>
    /// → FAILED with <paramref name="error"/> added to its errors; its total time ends. A job being cancelled ends
    /// CANCELLED instead (what its user asked for), without the error.
    /// </summary>
    public static ExportJob? Fail(this ExportJob job, long now, JobError error) =>
        job.Status == JobStatus.Cancelling ? job.Cancel(now)
        : Move(job, JobStatus.Failed, now) is { } failed ? Ended(failed, now) with { Errors = [.. job.Errors ?? [], error] }
        : null;

    /// <summary>NEW or PROCESSING → CANCELLING: the orchestration is told to stop, and ends the job.</summary>
    public static ExportJob? RequestCancel(this ExportJob job, long now) => Move(job, JobStatus.Cancelling, now);

    /// <summary>→ CANCELLED; its total time ends.</summary>
    public static ExportJob? Cancel(this ExportJob job, long now) =>
        Move(job, JobStatus.Cancelled, now) is { } cancelled ? Ended(cancelled, now) : null;

    private static ExportJob? Move(ExportJob job, string to, long now) =>
        JobStatus.CanMove(job.Status, to) ? job with { Status = to, UpdateTime = now } : null;

    private static ExportJob Ended(ExportJob job, long now) =>
        job with { Metrics = (job.Metrics ?? new JobMetrics()) with { TotalTime = Timing.Started(job.CreationTime).EndedAt(now) } };
}
