using ExportJobs.Service.Schedules;
using ExportJobs.Service.Workflow;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Functions;

/// <summary>The watchdog's timer: an adapter onto <see cref="JobWatchdog"/>.</summary>
public sealed class WatchdogFunctions(JobWatchdog watchdog)
{
    [Function(FunctionNames.RunWatchdog)]
    public Task Run(
        [TimerTrigger(CronSchedule.WatchdogCron)] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => watchdog.RunAsync(client, ct);
}
