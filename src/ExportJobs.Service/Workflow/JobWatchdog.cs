using System.ComponentModel.DataAnnotations;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>Section <c>ExportJobs:Watchdog</c>.</summary>
public sealed class WatchdogOptions
{
    public const string Section = "ExportJobs:Watchdog";

    /// <summary>A job still NEW this long after its last change is looked at: re-driven if it has no orchestration.</summary>
    [Range(30, 24 * 3600)] public int StuckNewAfterSeconds { get; set; } = 300;

    /// <summary>A job PROCESSING (or CANCELLING) without progress this long is failed, its orchestration ended.</summary>
    [Range(60, 7 * 24 * 3600)] public int StalledAfterSeconds { get; set; } = 1800;

    /// <summary>How long the watchdog waits for the Durable engine to answer about one job before deciding without it.</summary>
    [Range(1, 300)] public int EngineTimeoutSeconds { get; set; } = 20;
}

/// <summary>
/// Runs with the schedule timer: no job stays stuck. A NEW job whose orchestration never started is started again
/// (same instance id); one whose orchestration has already ended is failed. A job without progress for
/// <see cref="WatchdogOptions.StalledAfterSeconds"/> is failed with <see cref="ExportErrorCodes.Stalled"/>, its partial
/// files removed, and its orchestration, if still there, terminated.
/// </summary>
public sealed class JobWatchdog(
    JobStore jobs, ExportJobSteps steps, IOptions<WatchdogOptions> options, IOptions<CallbackOptions> callbacks, TimeProvider time, ILogger<JobWatchdog> log)
{
    public async Task<(int Redriven, int Failed)> RunAsync(DurableTaskClient client, CancellationToken ct)
    {
        var o = options.Value;
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        int redriven = 0, failed = 0;

        foreach (var (tenant, job) in await jobs.ListQuietAsync([JobStatus.New], now - o.StuckNewAfterSeconds * 1000L, ct))
        {
            string instanceId = job.ComputeGatewayJobId!.ExportJob;
            var (answered, instance) = await AskEngineAsync(client, instanceId, ct);
            if (!answered) continue;
            if (instance is null)
            {
                await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ExportJobOrchestrator,
                    new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id, job.Callback is null ? 0 : callbacks.Value.MaxAttempts),
                    new StartOrchestrationOptions(instanceId), ct);
                await jobs.UpdateAsync(tenant, job.Id, j => j.Touch(now), ct);
                log.LogWarning("Watchdog: export job {JobId} of {Org}/{Sandbox} had no orchestration; started it again", job.Id, tenant.OrgId, tenant.Sandbox);
                redriven++;
            }
            else if (!IsAlive(instance))
            {
                await FailAsync(client, tenant, job, $"The job stayed NEW while its orchestration ended ({instance.RuntimeStatus}).", terminate: false, ct);
                failed++;
            }
        }

        foreach (var (tenant, job) in await jobs.ListQuietAsync([JobStatus.Processing, JobStatus.Cancelling], now - o.StalledAfterSeconds * 1000L, ct))
        {
            var (answered, instance) = await AskEngineAsync(client, job.ComputeGatewayJobId!.ExportJob, ct);
            string state = !answered ? "not answering" : instance is null ? "gone" : IsAlive(instance) ? $"still {instance.RuntimeStatus}" : $"ended ({instance.RuntimeStatus})";
            await FailAsync(client, tenant, job, $"No progress for {o.StalledAfterSeconds} seconds; its orchestration is {state}.",
                terminate: instance is not null && IsAlive(instance), ct);
            failed++;
        }
        return (redriven, failed);
    }

    /// <summary>Whether an orchestration may still make progress: queued (Pending), Running or Suspended.</summary>
    private static bool IsAlive(OrchestrationMetadata instance) => instance.RuntimeStatus is
        OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended;

    /// <summary>
    /// The orchestration of a job, asked with a timeout: an engine that has stopped answering (storage gone, a wedged
    /// channel) must not stop the watchdog, whose purpose is to end what is stuck.
    /// </summary>
    private async Task<(bool Answered, OrchestrationMetadata? Instance)> AskEngineAsync(DurableTaskClient client, string instanceId, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.EngineTimeoutSeconds));
        try
        {
            return (true, await client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, timeout.Token));
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            log.LogWarning("Watchdog: the Durable engine did not answer about {InstanceId}: {Error}", instanceId, e.Message);
            return (false, null);
        }
    }

    private async Task FailAsync(DurableTaskClient client, Core.Tenancy.Tenant tenant, ExportJob job, string message, bool terminate, CancellationToken ct)
    {
        if (terminate)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.EngineTimeoutSeconds));
            try
            {
                await client.TerminateInstanceAsync(job.ComputeGatewayJobId!.ExportJob, (object?)message, timeout.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogWarning("Watchdog: could not terminate {InstanceId}: {Error}", job.ComputeGatewayJobId!.ExportJob, e.Message);
            }
        }
        string status = await steps.FailAsync(new FailInput(new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id), ExportErrorCodes.Stalled, message, null), ct);
        log.LogWarning("Watchdog: export job {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", job.Id, tenant.OrgId, tenant.Sandbox, status, message);
    }
}
