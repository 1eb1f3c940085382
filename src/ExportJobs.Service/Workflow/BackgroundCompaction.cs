using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// Compaction after ingestion, off the exports' path: each ingested batch asks for it (<see cref="RequestAsync"/>),
/// which starts the tenant's <see cref="CompactionOrchestrator"/> unless it is already pending or running, and wakes it
/// when it is waiting for covered runs' grace (<see cref="CompactionOrchestrator.WaitingForGrace"/>); the
/// orchestration's activity compacts one shard (<see cref="CompactShardAsync"/>). Exports still compact a shard they
/// find over its bound, so a request that is lost costs time, never data.
/// </summary>
public sealed class BackgroundCompaction(ShardCompactor compactor, ShardReadGate gate, IOptions<ExportStorageOptions> options, ILogger<BackgroundCompaction> log)
{
    /// <summary>A minute past covered runs' grace (<see cref="ShardCompactor.CoveredGrace"/>), which counts from their covering run's time on the storage service's clock.</summary>
    private static readonly int SweepSeconds = (int)(ShardCompactor.CoveredGrace + TimeSpan.FromMinutes(1)).TotalSeconds;

    public async Task RequestAsync(DurableTaskClient client, Tenant tenant, CancellationToken ct)
    {
        string instanceId = TaskNames.CompactionInstanceIdOf(tenant.OrgId, tenant.Sandbox);
        try
        {
            // With its custom status, which the backends give with the inputs and outputs only.
            var current = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, ct);
            if (current is { RuntimeStatus: OrchestrationRuntimeStatus.Running } && current.ReadCustomStatusAs<string>() == CompactionOrchestrator.WaitingForGrace)
            {
                await client.RaiseEventAsync(instanceId, TaskNames.BatchIngestedEvent, true, ct);
                return;
            }
            if (current is { RuntimeStatus: OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running }) return;
            var o = options.Value;
            await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.CompactionOrchestrator,
                new CompactionInput(tenant.OrgId, tenant.Sandbox, o.ShardCount, o.CompactionQuietSeconds, o.MaxParallelShards, SweepSeconds),
                new StartOrchestrationOptions(instanceId), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The batch is stored whatever happens here (two batches racing to start the instance end here too).
            log.LogWarning(e, "Background compaction of {OrgId}/{Sandbox} was not started", tenant.OrgId, tenant.Sandbox);
        }
    }

    public async Task<ShardCompaction> CompactShardAsync(ShardCompactionTask task, CancellationToken ct)
    {
        using var read = await gate.EnterAsync(ct);
        var profiles = await compactor.CompactShardAsync(FragmentKind.Profile, task.Tenant, task.Shard, CompactionTrigger.Background, ct);
        var events = await compactor.CompactShardAsync(FragmentKind.Event, task.Tenant, task.Shard, CompactionTrigger.Background, ct);
        int merged = profiles.Merged + events.Merged;
        if (merged > 0)
            log.LogInformation("Compacted shard {Shard} of {OrgId}/{Sandbox}: {Merged} files merged", task.Shard, task.OrgId, task.Sandbox, merged);
        return new ShardCompaction(merged, profiles.Deferred || events.Deferred, profiles.CoveredKept || events.CoveredKept);
    }
}
