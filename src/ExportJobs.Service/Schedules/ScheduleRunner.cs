using ExportJobs.Core.Schedules;
using ExportJobs.Service.Jobs;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Schedules;

/// <summary>
/// What the timer does each minute: every active schedule whose next run has come by the tick gets one export job for
/// that due time. The tick is the timer's own scheduled instant (<see cref="TickOf"/>), not the clock read when it runs:
/// a timer that wakes a few milliseconds early still sees the schedules due at its instant, and one that wakes late does
/// not move a schedule past a due time. A host claims the due time by moving the schedule's next run forward with an
/// ETag compare-and-swap, so two hosts running the timer at once create one job between them; after downtime, a
/// schedule that missed several runs runs once (for the first due time missed), and its next run is the next one after
/// the tick.
/// </summary>
public sealed class ScheduleRunner(ScheduleStore schedules, ExportJobCreator creator, TimeProvider time, ILogger<ScheduleRunner> log)
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

            var (plan, problems) = await creator.CheckAsync(due.Tenant, schedule.Properties!, ct);
            if (plan is null)
            {
                string error = string.Join(" ", problems.Select(p => $"{p.Field}: {p.Message}"));
                log.LogWarning("Schedule {ScheduleId} could not create its job: {Error}", schedule.Id, error);
                await schedules.UpdateAsync(due.Tenant, schedule.Id!, s => (s.Schedule with { LastError = error }, s.NextRunMs), ct);
                continue;
            }
            var (job, started) = await creator.CreateAsync(due.Tenant, plan, client, $"schedule-{due.NextRunMs}", schedule.Id, ct);
            await schedules.UpdateAsync(due.Tenant, schedule.Id!, s => (s.Schedule with
            {
                LastJobId = job.Id,
                LastError = started ? null : $"job {job.Id} could not be started.",
            }, s.NextRunMs), ct);
            log.LogInformation("Schedule {ScheduleId} of {Org}/{Sandbox} created export job {JobId}", schedule.Id, due.Tenant.OrgId, due.Tenant.Sandbox, job.Id);
            created++;
        }
        return created;
    }
}
