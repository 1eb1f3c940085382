using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Schedules;

/// <summary><c>/config/schedules</c>: list (<c>start</c>, <c>limit</c>), create, get, PATCH (JSON Patch on <c>/state</c> and <c>/schedule</c>), delete.</summary>
public sealed class SchedulesHandler(
    ApiRequests api, ScheduleStore schedules, ExportJobCreator creator, SegmentJobCreator segmentJobs, IOptions<ScheduleOptions> options, IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    private const int DefaultLimit = 20, MaxLimit = 100;

    private TimeSpan MinimumInterval => TimeSpan.FromSeconds(options.Value.MinimumIntervalSeconds);

    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (start, limit, pageProblem) = RequestReading.ReadOffsetPage(request, DefaultLimit, MaxLimit);
        if (pageProblem is not null) return pageProblem;

        var all = await schedules.ListAsync(tenant, ct);
        var page = all.Skip(start).Take(limit).ToList();
        var next = start + limit < all.Count ? new ScheduleLink($"/config/schedules?start={start + limit}&limit={limit}") : null;
        return Results.Json(new ScheduleList(new SchedulePage(all.Count, page.Count), page, new ScheduleLinks(next)), CoreJson.Wire.ScheduleList);
    });

    public Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.Schedule, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var now = time.GetUtcNow();
        var problems = ScheduleRules.CheckFields(body);
        var cron = ScheduleRules.CheckCron(body.Cron, now, MinimumInterval, problems);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);
        var payloadProblems = body.Type == ScheduleTypes.BatchSegmentation
            ? (await segmentJobs.ResolveAsync(tenant, ScheduleRules.SegmentJobRequestOf(body.Properties!), ct)).Problems
            : (await creator.CheckAsync(tenant, body.Properties!, ct)).Problems;
        if (payloadProblems.Count > 0) return Problems.Invalid(payloadProblems.Select(p => new Problem(ScheduleRules.PropertyOf(p.Field), p.Message)).ToList());

        string state = body.State ?? ScheduleStates.Inactive;
        long? next = ScheduleRules.NextRunMs(state, cron!, now);
        var schedule = body with
        {
            Id = Guid.NewGuid().ToString(),
            ImsOrgId = tenant.OrgId,
            Sandbox = tenant.Sandbox,
            State = state,
            CreateEpoch = now.ToUnixTimeSeconds(),
            UpdateEpoch = now.ToUnixTimeSeconds(),
            NextRunTime = ScheduleRules.Rfc3339(next),
        };
        var etag = await schedules.AddAsync(tenant, schedule, next, ct);
        return Preconditions.WithETag(Results.Json(schedule, CoreJson.Wire.Schedule), etag);
    });

    public Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.Schedule(id), async (tenant, _) =>
    {
        var stored = await schedules.GetAsync(tenant, id, ct);
        return stored is null ? NotFound(id) : Preconditions.WithETag(Results.Json(stored.Schedule, CoreJson.Wire.Schedule), stored.ETag);
    });

    /// <summary>A JSON Patch (RFC 6902) of <c>add</c>/<c>replace</c> operations on <c>/state</c> and <c>/schedule</c>; 204.</summary>
    public Task<IResult> PatchAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.Schedule(id), async (tenant, _) =>
    {
        if (request.ContentType is { } type && type.StartsWith("application/json-patch+json", StringComparison.OrdinalIgnoreCase)) request.ContentType = "application/json";
        var (operations, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.ListPatchOperation, limits.Value.MaxJsonBodyBytes, ct);
        if (operations is null) return bodyProblem!;

        var problems = new ProblemList();
        string? state = null, cronText = null;
        for (int i = 0; i < operations.Count; i++)
        {
            var op = operations[i];
            string at = $"[{i}]";
            if (op.Op is not ("add" or "replace")) problems.Add($"{at}.op", "op is replace (or add).");
            string? value = op.Value is System.Text.Json.Nodes.JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;
            switch (op.Path)
            {
                case "/state": state = value; ScheduleRules.CheckState(value, problems); break;
                case "/schedule": cronText = value; break;
                default: problems.Add($"{at}.path", "path is /state or /schedule."); break;
            }
        }
        var now = time.GetUtcNow();
        if (cronText is not null) ScheduleRules.CheckCron(cronText, now, MinimumInterval, problems);
        if (operations.Count == 0) problems.Add("body", "the patch has no operation.");
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        var (outcome, etag) = await schedules.UpdateAsync(tenant, id, stored =>
        {
            var schedule = stored.Schedule with { State = state ?? stored.Schedule.State, Cron = cronText ?? stored.Schedule.Cron, UpdateEpoch = now.ToUnixTimeSeconds() };
            long? next = ScheduleRules.NextRunMs(schedule.State, CronSchedule.Parse(schedule.Cron!), now);
            return (schedule with { NextRunTime = ScheduleRules.Rfc3339(next) }, next);
        }, ct, Preconditions.IfMatch(request));
        return outcome == RecordJson.ReplaceOutcome.Replaced
            ? Preconditions.WithETag(Results.NoContent(), etag)
            : Preconditions.Refused(outcome, () => NotFound(id));
    });

    public Task<IResult> DeleteAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.Schedule(id), async (tenant, _) =>
    {
        return await schedules.DeleteAsync(tenant, id, ct) ? Results.NoContent() : NotFound(id);
    });


    private static IResult NotFound(string id) => Problems.NotFound("id", $"There is no schedule '{id}' in this sandbox.");
}
