using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Schedules;

/// <summary>
/// What the timer does each minute: every active schedule whose next run has come by the tick gets one job for that due
/// time (an export job, or a segment job for a <c>batch_segmentation</c> schedule). The tick is the timer's own
/// scheduled instant (<see cref="TickOf"/>), not the clock read when it runs: a timer that wakes a few milliseconds
/// early still sees the schedules due at its instant, and one that wakes late does not move a schedule past a due time. A host claims the due time by moving the schedule's next run forward with an
/// ETag compare-and-swap, so two hosts running the timer at once create one job between them; after downtime, a
/// schedule that missed several runs runs once (for the first due time missed), and its next run is the next one after
/// the tick.
/// </summary>
public sealed class ScheduleRunner(ScheduleStore schedules, ExportJobCreator creator, SegmentJobCreator segmentJobs, JobStore jobs, ChangeStates changeStates,
    TimeProvider time, ILogger<ScheduleRunner> log)
{
    private static readonly CronSchedule Timer = CronSchedule.Parse(CronSchedule.TimerCron);

    /// <summary>
    /// The timer's scheduled instant nearest to <paramref name="now"/>: a run that wakes early or late (by less than
    /// half the timer's period) belongs to that instant.
    /// </summary>
    public static DateTimeOffset TickOf(DateTimeOffset now)
    {
        var next = Timer.NextAfter(now)!.Value;
        var period = Timer.NextAfter(next)!.Value - next;
        return next - now <= period / 2 ? next : next - period;
    }

    public async Task<int> RunDueAsync(DurableTaskClient client, CancellationToken ct)
    {
        var tick = TickOf(time.GetUtcNow());
        int created = 0;
        foreach (var due in await schedules.ListDueAsync(tick.ToUnixTimeMilliseconds(), ct))
        {
            var schedule = due.Schedule;
            long? next = ScheduleRules.NextRunMs(schedule.State, CronSchedule.Parse(schedule.Cron!), tick);
            var claimed = schedule with { LastRunTime = ScheduleRules.Rfc3339(due.NextRunMs), NextRunTime = ScheduleRules.Rfc3339(next) };
            if (await schedules.TryReplaceAsync(due.Tenant, claimed, next, due.ETag, ct) is null) continue;

            var (jobId, started, error) = schedule.Type == ScheduleTypes.BatchSegmentation
                ? await StartSegmentJobAsync(due, client, ct)
                : await StartExportJobAsync(due, client, ct);
            if (error is not null) log.LogWarning("Schedule {ScheduleId} could not create its job: {Error}", schedule.Id, error);
            await schedules.UpdateAsync(due.Tenant, schedule.Id!, s => (s.Schedule with
            {
                LastJobId = jobId ?? s.Schedule.LastJobId,
                LastError = error ?? (started ? null : $"job {jobId} could not be started."),
            }, s.NextRunMs), ct);
            if (jobId is null) continue;
            log.LogInformation("Schedule {ScheduleId} of {Org}/{Sandbox} created {Type} job {JobId}", schedule.Id, due.Tenant.OrgId, due.Tenant.Sandbox, schedule.Type, jobId);
            created++;
        }
        return created;
    }

    private async Task<(long? JobId, bool Started, string? Error)> StartExportJobAsync(ScheduleStore.Stored due, DurableTaskClient client, CancellationToken ct)
    {
        var (plan, problems) = await creator.CheckAsync(due.Tenant, await ChainedAsync(due, ct), ct);
        if (plan is null) return (null, false, Describe(problems));
        var (job, started) = await creator.CreateAsync(due.Tenant, plan, client, $"schedule-{due.NextRunMs}", due.Schedule.Id, ct);
        return (job.Id, started, null);
    }

    /// <summary>
    /// An incremental schedule's run diffs against the schedule's latest run that succeeded, while its state is kept;
    /// its first run, or one after the state was lost, exports every member.
    /// </summary>
    private async Task<ExportJobRequest> ChainedAsync(ScheduleStore.Stored due, CancellationToken ct)
    {
        var properties = due.Schedule.Properties!;
        if (properties.Incremental is null) return properties;
        var latest = await jobs.LatestSucceededAsync(due.Tenant, due.Schedule.Id!, ct);
        bool chained = latest?.Incremental is not null && latest.SameAudienceAs(properties) && await changeStates.IsCompleteAsync(due.Tenant, latest.Id, ct);
        return properties with { Incremental = new IncrementalRequest { AfterJobId = chained ? latest!.Id : null } };
    }

    /// <summary>A <c>batch_segmentation</c> schedule's run: a segment job of its segments as they are defined now.</summary>
    private async Task<(long? JobId, bool Started, string? Error)> StartSegmentJobAsync(ScheduleStore.Stored due, DurableTaskClient client, CancellationToken ct)
    {
        var (segments, problems) = await segmentJobs.ResolveAsync(due.Tenant, ScheduleRules.SegmentJobRequestOf(due.Schedule.Properties!), ct);
        if (segments is null) return (null, false, Describe(problems.Select(p => p with { Field = ScheduleRules.PropertyOf(p.Field) })));
        string runId = (due.NextRunMs ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (job, started) = await segmentJobs.CreateAsync(due.Tenant, segments, client, $"schedule-{runId}", new SegmentJobProperties(due.Schedule.Id, runId), ct);
        return (job.Number, started, null);
    }

    private static string Describe(IEnumerable<Core.Problem> problems) => string.Join(" ", problems.Select(p => $"{p.Field}: {p.Message}"));
}
