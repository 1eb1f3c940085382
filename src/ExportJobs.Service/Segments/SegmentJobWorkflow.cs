using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Service.Segments;

// What crosses a segment job's orchestration history: ids, counts and plans only.

public sealed record SegmentJobInput(string OrgId, string Sandbox, long JobId)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>Whether to run, the shards in groups (one activity each), how many activities at once, and how often each is tried.</summary>
public sealed record SegmentJobPlan(bool Proceed, IReadOnlyList<int[]> ShardGroups, int MaxParallel, int Attempts);

public sealed record SegmentShardTask(SegmentJobInput Job, int[] Shards);

/// <summary>What a group of shards found: profiles evaluated (in all and by merge policy) and each segment's figures.</summary>
public sealed record SegmentShardResult(int[] Shards, long Profiles, Dictionary<string, long> ProfilesByMergePolicy, Dictionary<string, SegmentTally> Segments);

/// <summary>A segment's members after the job, those of them by namespace, and the members that left in the job.</summary>
public sealed record SegmentTally(long Realized, long Exited, Dictionary<string, long> RealizedByNamespace);

public sealed record SegmentFinalizeInput(SegmentJobInput Job, IReadOnlyList<SegmentShardResult> Shards, bool Cancelled);

public sealed record SegmentFailInput(SegmentJobInput Job, string Code, string Message, string? CallStack);

/// <summary>
/// A segment job: prepare → evaluate each group of shards (fanned out, at most <see cref="SegmentJobPlan.MaxParallel"/>
/// at once) → finalize. The cancel event stops the fan-out; the running shards finish and finalize removes the
/// memberships the job recorded. A failed step ends the job FAILED, its memberships removed too.
/// </summary>
[DurableTask(TaskNames.SegmentJobOrchestrator)]
public sealed class SegmentJobOrchestrator : TaskOrchestrator<SegmentJobInput, string>
{
    private static readonly TaskOptions Retry = TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromSeconds(1)));

    public override async Task<string> RunAsync(TaskOrchestrationContext context, SegmentJobInput input)
    {
        var cancel = context.WaitForExternalEvent<bool>(TaskNames.CancelEvent);
        try
        {
            var plan = await context.CallActivityAsync<SegmentJobPlan>(TaskNames.PrepareSegmentJob, input);
            if (!plan.Proceed) return await context.CallActivityAsync<string>(TaskNames.FinalizeSegmentJob, new SegmentFinalizeInput(input, [], true), Retry);
            var (results, cancelled) = await FanOut.RunAsync<SegmentShardTask, SegmentShardResult>(context, TaskNames.EvaluateShards,
                plan.ShardGroups.Select(group => new SegmentShardTask(input, group)).ToList(), plan.MaxParallel,
                TaskOptions.FromRetryPolicy(new RetryPolicy(plan.Attempts, TimeSpan.FromSeconds(1))), cancel);
            return await context.CallActivityAsync<string>(TaskNames.FinalizeSegmentJob, new SegmentFinalizeInput(input, results, cancelled), Retry);
        }
        catch (TaskFailedException failure)
        {
            return await context.CallActivityAsync<string>(TaskNames.FailSegmentJob, new SegmentFailInput(input,
                failure.FailureDetails.IsCausedBy<SegmentEvaluation.BudgetExceededException>() ? ExportErrorCodes.EvaluationBudgetExceeded : ExportErrorCodes.StepFailed,
                $"{failure.TaskName} failed: {failure.FailureDetails.ErrorType}: {failure.FailureDetails.ErrorMessage}", failure.FailureDetails.StackTrace), Retry);
        }
    }
}

/// <summary>Segment jobs, as the watchdog sees them.</summary>
public sealed class WatchedSegmentJobs(SegmentJobStore jobs, SegmentJobSteps steps) : IWatchedJobs
{
    public string Kind => "segment job";

    public async Task<IReadOnlyList<WatchedJob>> ListQuietAsync(IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct) =>
        [.. (await jobs.ListQuietAsync(statuses, updatedBeforeMs, ct)).Select(j =>
            new WatchedJob(j.Tenant, j.Job.Number, TaskNames.SegmentJobInstanceIdOf(j.Tenant.OrgId, j.Tenant.Sandbox, j.Job.Number)))];

    public async Task RestartAsync(DurableTaskClient client, WatchedJob job, long now, CancellationToken ct)
    {
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.SegmentJobOrchestrator, new SegmentJobInput(job.Tenant.OrgId, job.Tenant.Sandbox, job.Id),
            new StartOrchestrationOptions(job.InstanceId), ct);
        await jobs.UpdateAsync(job.Tenant, job.Id, j => j.Touch(now), ct);
    }

    public Task<string> FailAsync(WatchedJob job, string message, CancellationToken ct) =>
        steps.FailAsync(new SegmentFailInput(new SegmentJobInput(job.Tenant.OrgId, job.Tenant.Sandbox, job.Id), ExportErrorCodes.Stalled, message, null), ct);
}

[DurableTask(TaskNames.PrepareSegmentJob)]
public sealed class PrepareSegmentJobActivity(SegmentJobSteps steps) : TaskActivity<SegmentJobInput, SegmentJobPlan>
{
    public override Task<SegmentJobPlan> RunAsync(TaskActivityContext context, SegmentJobInput input) => steps.PrepareAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.EvaluateShards)]
public sealed class EvaluateShardsActivity(SegmentJobSteps steps) : TaskActivity<SegmentShardTask, SegmentShardResult>
{
    public override Task<SegmentShardResult> RunAsync(TaskActivityContext context, SegmentShardTask input) => steps.EvaluateShardsAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.FinalizeSegmentJob)]
public sealed class FinalizeSegmentJobActivity(SegmentJobSteps steps) : TaskActivity<SegmentFinalizeInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, SegmentFinalizeInput input) => steps.FinalizeAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.FailSegmentJob)]
public sealed class FailSegmentJobActivity(SegmentJobSteps steps) : TaskActivity<SegmentFailInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, SegmentFailInput input) => steps.FailAsync(input, CancellationToken.None);
}
