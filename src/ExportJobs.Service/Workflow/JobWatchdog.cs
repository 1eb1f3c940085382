using System.ComponentModel.DataAnnotations;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>Section <c>ExportJobs:Watchdog</c>.</summary>
public sealed class WatchdogOptions : IValidatableObject
{
    public const string Section = "ExportJobs:Watchdog";

    /// <summary>A job still NEW this long after its last change is looked at: re-driven if it has no orchestration.</summary>
    [Range(30, 24 * 3600)] public int StuckNewAfterSeconds { get; set; } = 300;

    /// <summary>A job PROCESSING (or CANCELLING) without progress this long is failed, its orchestration ended.</summary>
    [Range(60, 7 * 24 * 3600)] public int StalledAfterSeconds { get; set; } = 1800;

    /// <summary>How long the watchdog waits for the Durable engine to answer about one job before deciding without it.</summary>
    [Range(1, 300)] public int EngineTimeoutSeconds { get; set; } = 20;

    /// <summary>
    /// An orchestration created this long ago that has ended (completed, failed or terminated) is purged: its history
    /// and instance rows. The job's record keeps all the API shows; without the purge the task hub grows by every job.
    /// </summary>
    [Range(3600, 366 * 24 * 3600)] public int PurgeEndedAfterSeconds { get; set; } = 7 * 24 * 3600;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // A NEW job is failed when its orchestration has ended, and started again when it has none: the watchdog must
        // see an ended orchestration before it is purged.
        if (PurgeEndedAfterSeconds <= StuckNewAfterSeconds)
            yield return new ValidationResult("ExportJobs:Watchdog:PurgeEndedAfterSeconds must be more than StuckNewAfterSeconds.",
                [nameof(PurgeEndedAfterSeconds), nameof(StuckNewAfterSeconds)]);
    }
}

/// <summary>A job the watchdog looks after: its tenant, id and orchestration instance.</summary>
public sealed record WatchedJob(Core.Tenancy.Tenant Tenant, long Id, string InstanceId);

/// <summary>A kind of job the watchdog looks after (export jobs, segment jobs): how to find, restart and fail one.</summary>
public interface IWatchedJobs
{
    string Kind { get; }

    /// <summary>Jobs of every tenant in one of <paramref name="statuses"/> whose record has not changed since <paramref name="updatedBeforeMs"/>.</summary>
    Task<IReadOnlyList<WatchedJob>> ListQuietAsync(IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct);

    /// <summary>Starts the orchestration of a NEW job again, under its own instance id, and touches the job.</summary>
    Task RestartAsync(DurableTaskClient client, WatchedJob job, long now, CancellationToken ct);

    /// <summary>Ends the job FAILED with <see cref="ExportErrorCodes.Stalled"/>, what it wrote removed; its status afterwards.</summary>
    Task<string> FailAsync(WatchedJob job, string message, CancellationToken ct);
}

/// <summary>Export jobs, as the watchdog sees them.</summary>
public sealed class WatchedExportJobs(JobStore jobs, ExportJobSteps steps, IOptions<CallbackOptions> callbacks) : IWatchedJobs
{
    public string Kind => "export job";

    public async Task<IReadOnlyList<WatchedJob>> ListQuietAsync(IReadOnlyList<string> statuses, long updatedBeforeMs, CancellationToken ct) =>
        [.. (await jobs.ListQuietAsync(statuses, updatedBeforeMs, ct)).Select(j => new WatchedJob(j.Tenant, j.Job.Id, j.Job.ComputeGatewayJobId!.ExportJob))];

    public async Task RestartAsync(DurableTaskClient client, WatchedJob job, long now, CancellationToken ct)
    {
        var record = await jobs.GetAsync(job.Tenant, job.Id, ct);
        await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.ExportJobOrchestrator,
            new ExportJobInput(job.Tenant.OrgId, job.Tenant.Sandbox, job.Id, record?.Callback is null ? 0 : callbacks.Value.MaxAttempts),
            new StartOrchestrationOptions(job.InstanceId), ct);
        await jobs.UpdateAsync(job.Tenant, job.Id, j => j.Touch(now), ct);
    }

    public Task<string> FailAsync(WatchedJob job, string message, CancellationToken ct) =>
        steps.FailAsync(new FailInput(new ExportJobInput(job.Tenant.OrgId, job.Tenant.Sandbox, job.Id), ExportErrorCodes.Stalled, message, null), ct);
}

/// <summary>
/// Runs with the schedule timer: no job stays stuck, of any kind (<see cref="IWatchedJobs"/>). A NEW job whose
/// orchestration never started is started again (same instance id); one whose orchestration has already ended is
/// failed. A job without progress for <see cref="WatchdogOptions.StalledAfterSeconds"/> is failed with
/// <see cref="ExportErrorCodes.Stalled"/>, what it wrote removed, and its orchestration, if still there, terminated.
/// Then the orchestrations that ended are purged once <see cref="WatchdogOptions.PurgeEndedAfterSeconds"/> have passed
/// since they were created.
/// </summary>
public sealed class JobWatchdog(IEnumerable<IWatchedJobs> kinds, IOptions<WatchdogOptions> options, TimeProvider time, ILogger<JobWatchdog> log)
{
    private static readonly OrchestrationRuntimeStatus[] Ended =
        [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated];

    public async Task<(int Redriven, int Failed, int Purged)> RunAsync(DurableTaskClient client, CancellationToken ct)
    {
        var o = options.Value;
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        int redriven = 0, failed = 0;
        foreach (var kind in kinds)
        {
            foreach (var job in await kind.ListQuietAsync([JobStatus.New], now - o.StuckNewAfterSeconds * 1000L, ct))
            {
                var (answered, instance) = await AskEngineAsync(client, job.InstanceId, ct);
                if (!answered) continue;
                if (instance is null)
                {
                    await kind.RestartAsync(client, job, now, ct);
                    log.LogWarning("Watchdog: {Kind} {JobId} of {Org}/{Sandbox} had no orchestration; started it again", kind.Kind, job.Id, job.Tenant.OrgId, job.Tenant.Sandbox);
                    redriven++;
                }
                else if (!IsAlive(instance))
                {
                    await FailAsync(client, kind, job, $"The job stayed NEW while its orchestration ended ({instance.RuntimeStatus}).", terminate: false, ct);
                    failed++;
                }
            }

            foreach (var job in await kind.ListQuietAsync([JobStatus.Processing, JobStatus.Cancelling], now - o.StalledAfterSeconds * 1000L, ct))
            {
                var (answered, instance) = await AskEngineAsync(client, job.InstanceId, ct);
                string state = !answered ? "not answering" : instance is null ? "gone" : IsAlive(instance) ? $"still {instance.RuntimeStatus}" : $"ended ({instance.RuntimeStatus})";
                await FailAsync(client, kind, job, $"No progress for {o.StalledAfterSeconds} seconds; its orchestration is {state}.",
                    terminate: instance is not null && IsAlive(instance), ct);
                failed++;
            }
        }
        return (redriven, failed, await PurgeEndedAsync(client, now, ct));
    }

    /// <summary>
    /// Purges the orchestrations that ended, created <see cref="WatchdogOptions.PurgeEndedAfterSeconds"/> or more ago; how
    /// many. An engine that does not answer in time is left to the next run, as is what a purge cut short left.
    /// </summary>
    private async Task<int> PurgeEndedAsync(DurableTaskClient client, long now, CancellationToken ct)
    {
        var createdBefore = DateTimeOffset.FromUnixTimeMilliseconds(now) - TimeSpan.FromSeconds(options.Value.PurgeEndedAfterSeconds);
        using var timeout = EngineDeadline(ct);
        try
        {
            // From the epoch: the Durable Task backends' purge by time takes a created-from time, and no orchestration is older.
            var purged = await client.PurgeAllInstancesAsync(new PurgeInstancesFilter(DateTimeOffset.UnixEpoch, createdBefore, Ended), timeout.Token);
            if (purged.PurgedInstanceCount > 0)
                log.LogInformation("Watchdog: purged {Count} ended orchestrations created before {CreatedBefore:O}", purged.PurgedInstanceCount, createdBefore);
            return purged.PurgedInstanceCount;
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            log.LogWarning("Watchdog: ended orchestrations not purged: {Error}", e.Message);
            return 0;
        }
    }

    /// <summary>A token that ends with <paramref name="ct"/>, or once the engine has had <see cref="WatchdogOptions.EngineTimeoutSeconds"/> to answer.</summary>
    private CancellationTokenSource EngineDeadline(CancellationToken ct)
    {
        var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(TimeSpan.FromSeconds(options.Value.EngineTimeoutSeconds));
        return deadline;
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
        using var timeout = EngineDeadline(ct);
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

    private async Task FailAsync(DurableTaskClient client, IWatchedJobs kind, WatchedJob job, string message, bool terminate, CancellationToken ct)
    {
        if (terminate)
        {
            using var timeout = EngineDeadline(ct);
            try
            {
                await client.TerminateInstanceAsync(job.InstanceId, (object?)message, timeout.Token);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                log.LogWarning("Watchdog: could not terminate {InstanceId}: {Error}", job.InstanceId, e.Message);
            }
        }
        string status = await kind.FailAsync(job, message, ct);
        log.LogWarning("Watchdog: {Kind} {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", kind.Kind, job.Id, job.Tenant.OrgId, job.Tenant.Sandbox, status, message);
    }
}
