using ExportJobs.Service.Schedules;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask.Client;

namespace ExportJobs.LocalHost;

/// <summary>A Function App timer trigger, here: runs <paramref name="run"/> on the same cron as the Function.</summary>
public sealed class LocalTimer(string name, string cronText, Func<DurableTaskClient, CancellationToken, Task> run, DurableTaskClient client, TimeProvider time, ILogger<LocalTimer> log)
    : BackgroundService
{
    public string Name => name;
    public string Cron => cronText;

    /// <summary>
    /// The Function App's timers: due schedules, and the watchdog. (Registered as plain singletons: AddHostedService
    /// would keep only the first of two of one type.)
    /// </summary>
    public static void AddTo(IServiceCollection services)
    {
        services.AddSingleton<IHostedService>(sp => Create(sp, "schedules", CronSchedule.TimerCron, sp.GetRequiredService<ScheduleRunner>().RunDueAsync));
        services.AddSingleton<IHostedService>(sp => Create(sp, "watchdog", CronSchedule.WatchdogCron, sp.GetRequiredService<JobWatchdog>().RunAsync));
    }

    private static LocalTimer Create<T>(IServiceProvider sp, string name, string cron, Func<DurableTaskClient, CancellationToken, Task<T>> run) =>
        new(name, cron, run, sp.GetRequiredService<DurableTaskClient>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<LocalTimer>>());

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var cron = CronSchedule.Parse(cronText);
        DateTimeOffset? last = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var now = time.GetUtcNow();
            // After a delay that ended a little early, the instant just run is still ahead of the clock: not again.
            var next = cron.NextAfter(last > now ? last.Value : now) ?? now.AddMinutes(1);
            await Task.Delay(next > now ? next - now : TimeSpan.Zero, time, stoppingToken);
            last = next;
            try
            {
                await run(client, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Like a failed timer run on Functions: logged, and the next tick tries again.
                log.LogError(e, "The {Timer} timer run failed", name);
            }
        }
    }
}
