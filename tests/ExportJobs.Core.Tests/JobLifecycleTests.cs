using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Tests;

/// <summary>Every transition from every status: the allowed moves give the job in its new state, the others nothing.</summary>
public sealed class JobLifecycleTests
{
    private const long Created = 1_000, Now = 5_000;
    private static readonly JobError Error = new("EXPORT_STEP_FAILED", "shard 3 failed", null);

    private static ExportJob Job(string status) => new()
    {
        Id = 7,
        Destination = new JobDestination { DatasetId = "ds", BatchId = "b" },
        Schema = new SchemaRef { Name = "_xdm.context.profile" },
        ImsOrgId = "org",
        Status = status,
        CreationTime = Created,
        UpdateTime = Created,
        Metrics = new JobMetrics { TotalTime = Timing.Started(Created), Progress = status == JobStatus.Processing ? new JobProgress(1, 4) : null },
    };

    private static readonly Dictionary<string, Func<ExportJob, ExportJob?>> Transitions = new()
    {
        ["start"] = j => j.Start(Now, 4),
        ["shardsDone"] = j => j.ShardsDone(Now),
        ["touch"] = j => j.Touch(Now),
        ["succeed"] = j => j.Succeed(Now, new JobMetrics { TotalExportedProfileCounter = 12 }),
        ["fail"] = j => j.Fail(Now, Error),
        ["requestCancel"] = j => j.RequestCancel(Now),
        ["cancel"] = j => j.Cancel(Now),
    };

    // What each transition does from each status: the status it leads to, or null when it is refused.
    public static TheoryData<string, string, string?> Moves() => new()
    {
        { JobStatus.New, "start", JobStatus.Processing },
        { JobStatus.New, "shardsDone", null },
        { JobStatus.New, "touch", JobStatus.New },
        { JobStatus.New, "succeed", null },
        { JobStatus.New, "fail", JobStatus.Failed },
        { JobStatus.New, "requestCancel", JobStatus.Cancelling },
        { JobStatus.New, "cancel", JobStatus.Cancelled },
        { JobStatus.Processing, "start", null },
        { JobStatus.Processing, "shardsDone", JobStatus.Processing },
        { JobStatus.Processing, "touch", null },
        { JobStatus.Processing, "succeed", JobStatus.Succeeded },
        { JobStatus.Processing, "fail", JobStatus.Failed },
        { JobStatus.Processing, "requestCancel", JobStatus.Cancelling },
        { JobStatus.Processing, "cancel", JobStatus.Cancelled },
        { JobStatus.Cancelling, "start", null },
        { JobStatus.Cancelling, "shardsDone", null },
        { JobStatus.Cancelling, "touch", null },
        { JobStatus.Cancelling, "succeed", null },
        { JobStatus.Cancelling, "fail", JobStatus.Cancelled },
        { JobStatus.Cancelling, "requestCancel", null },
        { JobStatus.Cancelling, "cancel", JobStatus.Cancelled },
        { JobStatus.Succeeded, "start", null },
        { JobStatus.Succeeded, "shardsDone", null },
        { JobStatus.Succeeded, "touch", null },
        { JobStatus.Succeeded, "succeed", null },
        { JobStatus.Succeeded, "fail", null },
        { JobStatus.Succeeded, "requestCancel", null },
        { JobStatus.Succeeded, "cancel", null },
        { JobStatus.Failed, "start", null },
        { JobStatus.Failed, "fail", null },
        { JobStatus.Failed, "requestCancel", null },
        { JobStatus.Failed, "cancel", null },
        { JobStatus.Cancelled, "start", null },
        { JobStatus.Cancelled, "succeed", null },
        { JobStatus.Cancelled, "fail", null },
        { JobStatus.Cancelled, "cancel", null },
    };

    [Theory]
    [MemberData(nameof(Moves))]
    public void A_transition_is_allowed_only_from_the_statuses_that_allow_it(string from, string transition, string? to)
    {
        var moved = Transitions[transition](Job(from));
        Assert.Equal(to, moved?.Status);
        if (moved is not null) Assert.Equal(Now, moved.UpdateTime);
    }

    [Fact]
    public void The_table_covers_every_transition_from_every_status()
    {
        var covered = Moves().Select(m => ((string)m[0], (string)m[1])).ToHashSet();
        foreach (string status in new[] { JobStatus.New, JobStatus.Processing, JobStatus.Cancelling })
            foreach (string transition in Transitions.Keys)
                Assert.Contains((status, transition), covered);
    }

    [Fact]
    public void Ending_a_job_ends_its_total_time_and_a_failure_keeps_its_error()
    {
        var failed = Job(JobStatus.Processing).Fail(Now, Error)!;
        Assert.Equal([Error], failed.Errors!);
        Assert.Equal(Now - Created, failed.Metrics!.TotalTime!.TotalTimeInMs);
        Assert.Equal(Now - Created, Job(JobStatus.Processing).Succeed(Now, new JobMetrics())!.Metrics!.TotalTime!.TotalTimeInMs);
        Assert.Equal(Now - Created, Job(JobStatus.New).Cancel(Now)!.Metrics!.TotalTime!.TotalTimeInMs);
        Assert.Null(Job(JobStatus.Cancelling).Fail(Now, Error)!.Errors);
    }

    [Fact]
    public void Starting_sets_progress_and_shards_done_are_capped()
    {
        var started = Job(JobStatus.New).Start(Now, 4)!;
        Assert.Equal(new JobProgress(0, 4), started.Metrics!.Progress);
        var one = started.ShardsDone(Now)!;
        Assert.Equal(new JobProgress(1, 4), one.Metrics!.Progress);
        var group = one.ShardsDone(Now, 2)!;
        Assert.Equal(new JobProgress(3, 4), group.Metrics!.Progress);
        Assert.Equal(new JobProgress(4, 4), group.ShardsDone(Now, 2)!.Metrics!.Progress);
    }
}
