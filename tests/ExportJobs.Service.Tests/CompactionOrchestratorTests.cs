using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Service.Tests;

/// <summary>The background compaction's passes on the Durable Task test host, its shard activity scripted.</summary>
public sealed class CompactionOrchestratorTests
{
    [Fact]
    public async Task After_its_merges_it_waits_for_the_grace_of_the_covered_runs_a_pass_kept_and_sweeps_the_shards_one_at_a_time()
    {
        const int Shards = 4;
        int calls = 0, running = 0, sweepMostAtOnce = 0;
        await using var host = await DurableTestHost.StartAsync(registry => registry
            .AddOrchestrator<CompactionOrchestrator>()
            .AddActivityFunc<ShardCompactionTask, ShardCompaction>(TaskNames.CompactShard, async (_, task) =>
            {
                // Pass 1 merges in every shard, pass 2 finds nothing to merge and keeps a shard's covered runs (a job
                // reading shards runs), pass 3 (the sweep) comes after the grace.
                int call = Interlocked.Increment(ref calls);
                int now = Interlocked.Increment(ref running);
                try
                {
                    if (call <= Shards) return new ShardCompaction(Merged: 2, Deferred: false, CoveredKept: true);
                    if (call == Shards + 2) return new ShardCompaction(Merged: 0, Deferred: false, CoveredKept: true);
                    if (call > 2 * Shards)
                    {
                        // A sweep's shard stays until another starts beside it, or a second has passed.
                        var deadline = DateTime.UtcNow.AddSeconds(1);
                        while (Volatile.Read(ref running) < 2 && DateTime.UtcNow < deadline) await Task.Delay(20);
                        InterlockedMax(ref sweepMostAtOnce, Volatile.Read(ref running));
                    }
                    return default;
                }
                finally
                {
                    Interlocked.Decrement(ref running);
                }
            }));

        string instance = TaskNames.CompactionInstanceIdOf("org", "sandbox");
        await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.CompactionOrchestrator,
            new CompactionInput("org", "sandbox", Shards, QuietSeconds: 0, MaxParallelShards: Shards, SweepSeconds: 2), new StartOrchestrationOptions(instance));

        var waiting = await Poll.UntilAsync(() => host.Client.GetInstanceAsync(instance, getInputsAndOutputs: true),
            i => i?.ReadCustomStatusAs<string>() == CompactionOrchestrator.WaitingForGrace || i?.RuntimeStatus == OrchestrationRuntimeStatus.Completed,
            TimeSpan.FromSeconds(30), "the compaction to wait for the grace");
        Assert.Equal(OrchestrationRuntimeStatus.Running, waiting!.RuntimeStatus);
        Assert.Equal(2 * Shards, Volatile.Read(ref calls));

        var done = await Poll.UntilAsync(() => host.Client.GetInstanceAsync(instance, getInputsAndOutputs: true),
            i => i?.RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed, TimeSpan.FromSeconds(60), "the sweep");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done!.RuntimeStatus);
        Assert.Equal(3 * Shards, Volatile.Read(ref calls));
        Assert.Equal(1, sweepMostAtOnce);
    }

    [Fact]
    public async Task A_pass_that_deleted_every_covered_run_after_the_merges_ends_it_without_waiting_for_the_grace()
    {
        const int Shards = 4;
        int calls = 0;
        await using var host = await DurableTestHost.StartAsync(registry => registry
            .AddOrchestrator<CompactionOrchestrator>()
            .AddActivityFunc<ShardCompactionTask, ShardCompaction>(TaskNames.CompactShard, (_, task) =>
                // Pass 1 merges in every shard, pass 2 finds nothing to merge and deletes the covered runs (no job reads shards).
                Interlocked.Increment(ref calls) <= Shards ? new ShardCompaction(Merged: 2, Deferred: false, CoveredKept: true) : default));

        string instance = TaskNames.CompactionInstanceIdOf("org", "sandbox");
        await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.CompactionOrchestrator,
            new CompactionInput("org", "sandbox", Shards, QuietSeconds: 0, MaxParallelShards: Shards, SweepSeconds: 600), new StartOrchestrationOptions(instance));

        var done = await Poll.UntilAsync(() => host.Client.GetInstanceAsync(instance, getInputsAndOutputs: true),
            i => i?.ReadCustomStatusAs<string>() == CompactionOrchestrator.WaitingForGrace || i?.RuntimeStatus is OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed,
            TimeSpan.FromSeconds(30), "the compaction to end or wait for the grace");
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done!.RuntimeStatus);
        Assert.Equal(2 * Shards, Volatile.Read(ref calls));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
    }
}
