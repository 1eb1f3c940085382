using ExportJobs.Service.Schedules;
using Microsoft.DurableTask.Client;

namespace ExportJobs.LocalHost;

/// <summary>The Function App's timer trigger, here: runs due schedules on the same cron (<see cref="CronSchedule.TimerCron"/>).</summary>
public sealed class ScheduleTimer(ScheduleRunner runner, DurableTaskClient client, TimeProvider time, ILogger<ScheduleTimer> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var cron = CronSchedule.Parse(CronSchedule.TimerCron);
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            var next = cron.NextAfter(now) ?? now.AddMinutes(1);
            await Task.Delay(next - now, time, stoppingToken);
            try
            {
                int created = await runner.RunDueAsync(client, stoppingToken);
                if (created > 0) log.LogInformation("The schedule timer created {Jobs} export jobs", created);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Like a failed timer run on Functions: logged, and the next tick tries again.
                log.LogError(e, "The schedule timer run failed");
            }
        }
    }
}
