using ExportJobs.Service.Identities;
using Microsoft.DurableTask;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// Prepare → export each group of shards (fanned out, at most <see cref="ExportPlan.MaxParallelShards"/> at once) → finalize.
/// A <c>pdg</c> export builds its graphs first (<see cref="IdentityGraphBuild"/>, unless a build of the same data
/// exists) and moves the fragments of identities that are not their graph's primary to the partitions of their
/// graphs (<see cref="GraphShuffle"/>), then exports the partitions.
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
        try
        {
            var plan = await context.CallActivityAsync<ExportPlan>(TaskNames.PrepareExport, input);
            if (!plan.Proceed) return await Finalize(context, input, [], 0, 0, cancelled: true);

            long exportStart = Ms(context);
            var shardOptions = TaskOptions.FromRetryPolicy(new RetryPolicy(plan.ShardAttempts, TimeSpan.FromSeconds(1)));
            var tasks = plan.ShardGroups.Select(group => new ShardTask(input, group,
                Listed: plan.Listed?.Where(s => group.Contains(s.Shard)).ToList(), ListedAtMs: plan.ListedAtMs)).ToList();
            if (plan.Stitched)
            {
                // The graphs as of the data, then the fragments of identities that are not their graph's primary
                // moved to the partitions of their graphs (a partition is the shard of its graphs' primaries); the
                // partitions are then exported as shards are, grouped by their stored and moved bytes.
                string graphs = await IdentityGraphBuild.RunAsync(context,
                    new GraphBuildInput(input.OrgId, input.Sandbox, $"job{input.JobId}", plan.MaxParallelShards, plan.ShardAttempts, plan.ShardGroupBytes));
                var (routed, cancelled) = await FanOut.RunAsync<ShardTask, RouteResult>(context, TaskNames.RouteShards,
                    tasks.Select(t => t with { Graphs = graphs }).ToList(), plan.MaxParallelShards, shardOptions, cancel);
                if (cancelled) return await Finalize(context, input, [], exportStart, Ms(context), cancelled: true);
                var bytes = Enumerable.Range(0, plan.Partitions).Select(p => KeyValuePair.Create(p, plan.ShardBytes![p] + routed.Sum(r => r.BytesByPartition[p])));
                var routes = new string[]?[plan.Partitions];
                foreach (var result in routed)
                    for (int i = 0; i < result.Shards.Length; i++) routes[result.Shards[i]] = result.Routes[i];
                tasks = ShardGroups.Of(bytes, plan.ShardGroupBytes).Select(group => new ShardTask(input, group, graphs, routes)).ToList();
            }
            var (results, stopped) = await FanOut.RunAsync<ShardTask, ShardResult>(context, TaskNames.ExportShard, tasks, plan.MaxParallelShards, shardOptions, cancel);
            return await Finalize(context, input, results, exportStart, Ms(context), stopped);
        }
        catch (TaskFailedException failure)
        {
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
}
