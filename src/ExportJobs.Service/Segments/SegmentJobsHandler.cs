using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Segments;

/// <summary>The four <c>/segment/jobs</c> endpoints, host-neutral.</summary>
public sealed class SegmentJobsHandler(ApiRequests api, SegmentJobStore jobs, SegmentJobCreator creator, IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    private const int DefaultLimit = 20, MaxLimit = 100;

    public const string CancellingMessage = "Segment job has been marked for cancelling";
    public const string DeletedMessage = "Segment job has been deleted";

    /// <summary>Newest first, <c>start</c> an offset into that order (as the platform's), <c>limit</c>, <c>status</c>, <c>sort</c> (only <c>creationTime:desc</c>).</summary>
    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (start, limit, pageProblem) = RequestReading.ReadOffsetPage(request, DefaultLimit, MaxLimit);
        if (pageProblem is not null) return pageProblem;
        string? status = request.Query["status"];
        var problems = new ProblemList();
        SegmentJobRules.CheckListFilters(status, request.Query["sort"], problems);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        var (page, more) = await jobs.ListAsync(tenant, start, limit, status, ct);
        var next = more
            ? new SegmentJobPageLink(string.Create(CultureInfo.InvariantCulture, $"/segment/jobs?start={start + limit}&limit={limit}") + (status is null ? "" : $"&status={status}"))
            : null;
        return Results.Json(new SegmentJobList(new SegmentJobPage(page.Count), page, new SegmentJobPageLinks(next)), CoreJson.Wire.SegmentJobList);
    });

    /// <summary>Creates and starts a job; the body is the platform's array of <c>{"segmentId"}</c>, or its object form with <c>schema</c> and <c>segments</c>. 200 with the job.</summary>
    public Task<IResult> CreateAsync(HttpRequest request, DurableTaskClient client, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.JsonNode, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var (payload, shapeProblem) = Payload(body);
        if (payload is null) return shapeProblem!;
        var (segments, problems) = await creator.ResolveAsync(tenant, payload, ct);
        if (segments is null) return Problems.Invalid(problems);

        string requestId = RequestReading.RequestIdOf(request);
        var (job, started) = await creator.CreateAsync(tenant, segments, client, requestId, null, ct);
        if (!started) return Problems.Unavailable($"Segment job {job.Id} was recorded but could not be started; it is marked FAILED. Try again.");
        return new HeaderResult(Results.Json(job, CoreJson.Wire.SegmentJob), "Location", $"/{Routes.SegmentJobs}/{job.Id}");
    });

    private static (SegmentJobRequest? Payload, IResult? Problem) Payload(JsonNode body)
    {
        try
        {
            return body is JsonArray
                ? (new SegmentJobRequest { Segments = body.Deserialize(CoreJson.Requests.ListSegmentJobSegmentRequest) }, null)
                : (body.Deserialize(CoreJson.Requests.SegmentJobRequest), null);
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid(RequestReading.FieldOf(e), "The body is an array of {\"segmentId\": \"…\"}, or {\"schema\": {\"name\": \"_xdm.context.profile\"}, \"segments\": […]}."));
        }
    }

    public Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.SegmentJob(id), async (tenant, jobId) =>
    {
        var job = await jobs.GetAsync(tenant, jobId, ct);
        return job is null ? NotFound(jobId) : Results.Json(job, CoreJson.Wire.SegmentJob);
    });

    /// <summary>A running job is marked CANCELLING and told to stop (it ends CANCELLED, its memberships removed); an ended one is deleted (its memberships stay).</summary>
    public Task<IResult> DeleteAsync(HttpRequest request, string id, DurableTaskClient client, CancellationToken ct) => api.RunAsync(request, RouteIds.SegmentJob(id), async (tenant, jobId) =>
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var job = await jobs.UpdateAsync(tenant, jobId, j => j.RequestCancel(now), ct);
        if (job is null) return NotFound(jobId);
        if (job.Status == JobStatus.Cancelling)
        {
            await client.RaiseEventAsync(TaskNames.SegmentJobInstanceIdOf(tenant.OrgId, tenant.Sandbox, jobId), TaskNames.CancelEvent, true, ct);
            return Results.Json(new DeleteAnswer(true, CancellingMessage), CoreJson.Wire.DeleteAnswer);
        }
        return await jobs.DeleteAsync(tenant, jobId, ct) ? Results.Json(new DeleteAnswer(true, DeletedMessage), CoreJson.Wire.DeleteAnswer) : NotFound(jobId);
    });

    private static IResult NotFound(long id) => Problems.NotFound("id", $"There is no segment job {id} in this sandbox.");
}
