using System.ComponentModel.DataAnnotations;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Storage;
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
            var instance = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, ct);
            if (instance is null)
            {
                await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ExportJobOrchestrator,
                    new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id, job.Callback is null ? 0 : callbacks.Value.MaxAttempts),
                    new StartOrchestrationOptions(instanceId), ct);
                await jobs.UpdateAsync(tenant, job.Id, j => j.Status == JobStatus.New ? j with { UpdateTime = now } : null, ct);
                log.LogWarning("Watchdog: export job {JobId} of {Org}/{Sandbox} had no orchestration; started it again", job.Id, tenant.OrgId, tenant.Sandbox);
                redriven++;
            }
            else if (!instance.IsRunning)
            {
                await FailAsync(client, tenant, job, $"The job stayed NEW while its orchestration ended ({instance.RuntimeStatus}).", terminate: false, ct);
                failed++;
            }
        }

        foreach (var (tenant, job) in await jobs.ListQuietAsync([JobStatus.Processing, JobStatus.Cancelling], now - o.StalledAfterSeconds * 1000L, ct))
        {
            var instance = await client.GetInstanceAsync(job.ComputeGatewayJobId!.ExportJob, getInputsAndOutputs: false, ct);
            string state = instance is null ? "gone" : instance.IsRunning ? "still running" : $"ended ({instance.RuntimeStatus})";
            await FailAsync(client, tenant, job, $"No progress for {o.StalledAfterSeconds} seconds; its orchestration is {state}.", terminate: instance?.IsRunning == true, ct);
            failed++;
        }
        return (redriven, failed);
    }

    private async Task FailAsync(DurableTaskClient client, Core.Tenancy.Tenant tenant, ExportJob job, string message, bool terminate, CancellationToken ct)
    {
        if (terminate) await client.TerminateInstanceAsync(job.ComputeGatewayJobId!.ExportJob, (object?)message, ct);
        string status = await steps.FailAsync(new FailInput(new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id), ExportErrorCodes.Stalled, message, null), ct);
        log.LogWarning("Watchdog: export job {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", job.Id, tenant.OrgId, tenant.Sandbox, status, message);
    }
}
