using Microsoft.DurableTask;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// Prepare → export each group of shards (fanned out, at most <see cref="ExportPlan.MaxParallelShards"/> at once) → finalize.
/// A cancel event stops the fan-out: no new shard starts, the running ones finish, and finalize removes the partial
/// files. A failed step ends the job FAILED with its error, after the running shards finished. Then, when the job has a
/// callback, it is notified, retried with backoff.
/// </summary>
[DurableTask(TaskNames.ExportJobOrchestrator)]
public sealed class ExportJobOrchestrator : TaskOrchestrator<ExportJobInput, string>
{
    public override async Task<string> RunAsync(TaskOrchestrationContext context, ExportJobInput input)
    {
        string status = await ExportAsync(context, input);
        if (input.CallbackAttempts > 0)
        {
            try
            {
                await context.CallActivityAsync<bool>(TaskNames.NotifyCallback, input,
                    TaskOptions.FromRetryPolicy(new RetryPolicy(input.CallbackAttempts, TimeSpan.FromSeconds(1), backoffCoefficient: 2)));
            }
            catch (TaskFailedException)
            {
                // Every attempt is recorded on the job; the job's own outcome stands.
            }
        }
        return status;
    }

    private static async Task<string> ExportAsync(TaskOrchestrationContext context, ExportJobInput input)
    {
        var cancel = context.WaitForExternalEvent<bool>(TaskNames.CancelEvent);
        var running = new List<Task<ShardResult>>();
        try
        {
            var plan = await context.CallActivityAsync<ExportPlan>(TaskNames.PrepareExport, input);
            if (!plan.Proceed) return await Finalize(context, input, [], 0, 0, cancelled: true);

            long exportStart = Ms(context);
            var shardOptions = TaskOptions.FromRetryPolicy(new RetryPolicy(plan.ShardAttempts, TimeSpan.FromSeconds(1)));
            var results = new List<ShardResult>();
            bool cancelled = false;
            int next = 0;
            while (!cancelled && (next < plan.ShardGroups.Count || running.Count > 0))
            {
                while (next < plan.ShardGroups.Count && running.Count < plan.MaxParallelShards)
                    running.Add(context.CallActivityAsync<ShardResult>(TaskNames.ExportShard, new ShardTask(input, plan.ShardGroups[next++]), shardOptions));

                // The cancel event first: when it and a shard have both come, the cancel wins and no further shard starts.
                var finished = await Task.WhenAny(running.Prepend<Task>(cancel));
                if (finished == cancel)
                {
                    cancelled = true;
                    break;
                }
                var group = (Task<ShardResult>)finished;
                running.Remove(group);
                results.Add(await group);
            }

            if (cancelled) await Settle(running);
            return await Finalize(context, input, results, exportStart, Ms(context), cancelled);
        }
        catch (TaskFailedException failure)
        {
            await Settle(running);
            return await context.CallActivityAsync<string>(TaskNames.FailExport, new FailInput(
                input,
                failure.FailureDetails.IsCausedBy<Core.Segments.SegmentEvaluation.BudgetExceededException>() ? ExportErrorCodes.EvaluationBudgetExceeded : ExportErrorCodes.StepFailed,
                $"{failure.TaskName} failed: {failure.FailureDetails.ErrorType}: {failure.FailureDetails.ErrorMessage}",
                failure.FailureDetails.StackTrace), Retry);
        }
    }

    private static readonly TaskOptions Retry = TaskOptions.FromRetryPolicy(new RetryPolicy(5, TimeSpan.FromSeconds(1)));

    private static Task<string> Finalize(TaskOrchestrationContext context, ExportJobInput input, IReadOnlyList<ShardResult> shards, long start, long end, bool cancelled) =>
        context.CallActivityAsync<string>(TaskNames.FinalizeExport, new FinalizeInput(input, shards, start, end, cancelled), Retry);

    private static long Ms(TaskOrchestrationContext context) => new DateTimeOffset(context.CurrentUtcDateTime).ToUnixTimeMilliseconds();

    /// <summary>Waits for the shards still running, whatever their outcome: their files must land before cleanup.</summary>
    private static async Task Settle(List<Task<ShardResult>> running)
    {
        try
        {
            await Task.WhenAll(running);
        }
        catch (TaskFailedException)
        {
            // Only their completion matters here; the job already ends cancelled or failed.
        }
    }
}
