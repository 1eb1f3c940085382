using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Segments;

/// <summary>
/// The only way a segment job changes status: the moves of <see cref="JobStatus"/>, as for export jobs. Each returns the
/// job in its new state, or null when it cannot make that move from where it is (its caller then writes nothing).
/// </summary>
public static class SegmentJobLifecycle
{
    /// <summary>NEW → PROCESSING, with progress 0 of <paramref name="shards"/>; evaluation starts.</summary>
    public static SegmentJob? Start(this SegmentJob job, long now, int shards) =>
        Move(job, JobStatus.Processing, now) is { } started
            ? started with { Metrics = (job.Metrics ?? new SegmentJobMetrics()) with { Progress = new JobProgress(0, shards), ProfileSegmentationTime = Timing.Started(now) } }
            : null;

    /// <summary><paramref name="shards"/> shards evaluated while PROCESSING (capped: a shard run again after a crash counts twice).</summary>
    public static SegmentJob? ShardsDone(this SegmentJob job, long now, int shards) =>
        job.Status == JobStatus.Processing && job.Metrics?.Progress is { } progress
            ? Touched(job, now) with { Metrics = job.Metrics with { Progress = progress with { ShardsDone = Math.Min(progress.ShardsDone + shards, progress.Shards) } } }
            : null;

    /// <summary>A NEW job looked at again (the watchdog re-drives it): only its update time moves.</summary>
    public static SegmentJob? Touch(this SegmentJob job, long now) => job.Status == JobStatus.New ? Touched(job, now) : null;

    /// <summary>PROCESSING → SUCCEEDED with its figures.</summary>
    public static SegmentJob? Succeed(this SegmentJob job, long now, SegmentJobMetrics metrics) =>
        Move(job, JobStatus.Succeeded, now) is { } done
            ? done with
            {
                Metrics = metrics with
                {
                    TotalTime = Timing.Started(job.CreationTime).EndedAt(now),
                    ProfileSegmentationTime = (job.Metrics?.ProfileSegmentationTime ?? Timing.Started(now)).EndedAt(now),
                },
            }
            : null;

    /// <summary>→ FAILED with the error; a job being cancelled ends CANCELLED instead.</summary>
    public static SegmentJob? Fail(this SegmentJob job, long now, JobError error) =>
        job.Status == JobStatus.Cancelling ? job.Cancel(now)
        : Move(job, JobStatus.Failed, now) is { } failed ? Ended(failed, now) with { Errors = [.. job.Errors ?? [], error] }
        : null;

    /// <summary>NEW or PROCESSING → CANCELLING: the orchestration is told to stop, and ends the job.</summary>
    public static SegmentJob? RequestCancel(this SegmentJob job, long now) => Move(job, JobStatus.Cancelling, now);

    public static SegmentJob? Cancel(this SegmentJob job, long now) =>
        Move(job, JobStatus.Cancelled, now) is { } cancelled ? Ended(cancelled, now) : null;

    private static SegmentJob? Move(SegmentJob job, string to, long now) =>
        JobStatus.CanMove(job.Status, to) ? Touched(job, now) with { Status = to } : null;

    private static SegmentJob Touched(SegmentJob job, long now) => job with { UpdateTime = now, UpdateEpoch = now / 1000 };

    private static SegmentJob Ended(SegmentJob job, long now) =>
        job with { Metrics = (job.Metrics ?? new SegmentJobMetrics()) with { TotalTime = Timing.Started(job.CreationTime).EndedAt(now) } };
}
