using ExportJobs.Service.Storage.Profiles;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// A tenant's background compaction: after the quiet period, compacts every shard (<see cref="TaskNames.CompactShard"/>),
/// at most <see cref="CompactionInput.MaxParallelShards"/> at once, and starts over as a new generation (its history
/// stays short) while a pass merged files or left a shard for later — files still arriving, or an export compacting
/// it: after the quiet period again when it left a shard, at once when it only merged (that pass finds the batches
/// that landed while it merged; it lists each shard and ends, instead of running beside the export that follows a bulk
/// load). A pass with nothing to merge deletes the shards' covered runs at once when no job that reads shards is running
/// (<see cref="IShardReadingJobs"/>), and ends it, unless a pass before it merged and it kept covered runs: then it
/// waits until the runs those merges covered are past their grace (<see cref="CompactionInput.SweepSeconds"/>) and
/// starts over at once, for a last pass that deletes them (reads leave them, <see cref="ShardCompactor.ReadDeletesAfter"/>),
/// a shard at a time: they are a request each, and Azurite serves one request at a time, so its other callers wait
/// behind one deletion, not one a shard. A batch ingested during the wait ends it (<see cref="BackgroundCompaction.RequestAsync"/>): the orchestration
/// starts over after the quiet period, the runs still to delete. A shard whose activity fails is left to the exports,
/// which compact what they read.
/// </summary>
[DurableTask(TaskNames.CompactionOrchestrator)]
public sealed class CompactionOrchestrator : TaskOrchestrator<CompactionInput, int>
{
    private static readonly TaskOptions Retry = TaskOptions.FromRetryPolicy(new RetryPolicy(3, TimeSpan.FromSeconds(5)));
    /// <summary>The custom status while it waits for covered runs' grace: a batch ingested then raises <see cref="TaskNames.BatchIngestedEvent"/>.</summary>
    public const string WaitingForGrace = "waiting for covered runs' grace";

    public override async Task<int> RunAsync(TaskOrchestrationContext context, CompactionInput input)
    {
        if (!input.AfterMerge) await context.CreateTimer(TimeSpan.FromSeconds(input.QuietSeconds), CancellationToken.None);
        var running = new List<Task<ShardCompaction>>();
        int next = 0, merged = 0, parallel = input.Sweep ? 1 : input.MaxParallelShards;
        bool deferred = false, coveredKept = false;
        while (next < input.ShardCount || running.Count > 0)
        {
            while (next < input.ShardCount && running.Count < parallel)
                running.Add(context.CallActivityAsync<ShardCompaction>(TaskNames.CompactShard, new ShardCompactionTask(input.OrgId, input.Sandbox, next++), Retry));
            var finished = await Task.WhenAny(running);
            running.Remove(finished);
            try
            {
                var shard = await finished;
                merged += shard.Merged;
                deferred |= shard.Deferred;
                coveredKept |= shard.CoveredKept;
            }
            catch (TaskFailedException failure)
            {
                coveredKept = true;
                context.CreateReplaySafeLogger<CompactionOrchestrator>().LogWarning("A shard of {OrgId}/{Sandbox} was not compacted: {Error}",
                    input.OrgId, input.Sandbox, failure.FailureDetails.ErrorMessage);
            }
        }
        if (deferred || merged > 0) context.ContinueAsNew(input with { AfterMerge = !deferred, Covered = input.Covered || merged > 0, Sweep = false });
        else if (input.Covered && coveredKept) context.ContinueAsNew(await WaitForGraceAsync(context, input));
        return merged;
    }

    /// <summary>The next generation: a pass at once when the covered runs' grace is over, after the quiet period when a batch came first.</summary>
    private static async Task<CompactionInput> WaitForGraceAsync(TaskOrchestrationContext context, CompactionInput input)
    {
        context.SetCustomStatus(WaitingForGrace);
        using var cancel = new CancellationTokenSource();
        var grace = context.CreateTimer(TimeSpan.FromSeconds(input.SweepSeconds), cancel.Token);
        var batch = context.WaitForExternalEvent<bool>(TaskNames.BatchIngestedEvent, cancel.Token);
        bool over = await Task.WhenAny(grace, batch) == grace;
        cancel.Cancel();
        context.SetCustomStatus(null);
        return input with { AfterMerge = over, Covered = !over, Sweep = over };
    }
}
