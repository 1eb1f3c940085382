using ExportJobs.Service.Http;
using ExportJobs.Service.Schedules;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Functions;

/// <summary>The <c>/config/schedules</c> HTTP functions and the timer that runs due schedules: adapters onto the Service.</summary>
public sealed class ScheduleFunctions(SchedulesHandler handler, ScheduleRunner runner)
{
    [Function(FunctionNames.ListSchedules)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Schedules)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.CreateSchedule)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.Schedules)] HttpRequest request,
        CancellationToken ct) => handler.CreateAsync(request, ct).AsAction();

    [Function(FunctionNames.GetSchedule)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Schedule)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.GetAsync(request, id, ct).AsAction();

    [Function(FunctionNames.PatchSchedule)]
    public Task<IActionResult> Patch(
        [HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.Schedule)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.PatchAsync(request, id, ct).AsAction();

    [Function(FunctionNames.DeleteSchedule)]
    public Task<IActionResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.Schedule)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.DeleteAsync(request, id, ct).AsAction();

    [Function(FunctionNames.RunDueSchedules)]
    public Task RunDue(
        [TimerTrigger(CronSchedule.TimerCron)] TimerInfo timer,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => runner.RunDueAsync(client, ct);
}
