using System.Security.Cryptography;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Idempotency;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Jobs;

/// <summary>The four <c>/export/jobs</c> endpoints, host-neutral: each host maps its routes onto these methods.</summary>
public sealed class ExportJobsHandler(
    ApiRequests api, JobStore jobs, ExportJobCreator creator, ChangeStates changeStates, IdempotencyStore idempotency, IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    private const string IdempotencyScope = "jobs";

    /// <summary>The <c>Retry-After</c> a created job suggests before its first poll, in seconds.</summary>
    public const int PollAfterSeconds = 5;

    public const string CancellingMessage = "Export job has been marked for cancelling";
    public const string DeletedMessage = "Export job has been deleted";

    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var problems = new ProblemList();
        var query = JobListQuery.Parse(request.Query["limit"], request.Query["offset"], request.Query["status"], problems);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        var (page, more) = await jobs.ListAsync(tenant, query, ct);
        var next = more ? query.NextLink(JobCursor.Of(page[^1])) : null;
        return Results.Json(
            new ExportJobPage(page, new PageInfo("createdTime", "desc", query.RawOffset, query.Limit), new PageLink(next)),
            CoreJson.Wire.ExportJobPage);
    });

    /// <summary>
    /// Creates and starts a job. With an <c>Idempotency-Key</c>, the same key and payload within the window answer the
    /// first job and start nothing; the same key with another payload answers 422.
    /// </summary>
    public Task<IResult> CreateAsync(HttpRequest request, DurableTaskClient client, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        if (!RequestReading.TryGetIdempotencyKey(request, out string? key, out var keyProblem)) return keyProblem!;
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.ExportJobRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var (plan, problems) = await creator.CheckAsync(tenant, body, ct);
        if (plan is null) return Problems.Invalid(problems);

        if (key is not null)
        {
            string hash = Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(body, CoreJson.Wire.ExportJobRequest)));
            if (await idempotency.EarlierAnswerAsync(tenant, IdempotencyScope, key, hash, async first =>
                {
                    long jobId = long.Parse(first, System.Globalization.CultureInfo.InvariantCulture);
                    return await jobs.GetAsync(tenant, jobId, ct) is { } earlier ? Created(earlier) : JobNotFound(jobId);
                }, ct) is { } answer)
                return answer;
        }

        string requestId = RequestReading.RequestIdOf(request);
        ExportJob job;
        bool started;
        try
        {
            (job, started) = await creator.CreateAsync(tenant, plan, client, requestId, scheduleId: null, ct);
        }
        catch when (key is not null)
        {
            await idempotency.AbandonAsync(tenant, IdempotencyScope, key);
            throw;
        }
        if (!started)
        {
            if (key is not null) await idempotency.AbandonAsync(tenant, IdempotencyScope, key);
            return Problems.Unavailable($"Export job {job.Id} was recorded but could not be started; it is marked FAILED. Try again.");
        }
        if (key is not null) await idempotency.CompleteAsync(tenant, IdempotencyScope, key, job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
        return Created(job);
    });

    /// <summary>The seed's answer (200, the job), with the job's URL in <c>Location</c> and when to poll it in <c>Retry-After</c>.</summary>
    private static HeaderResult Created(ExportJob job) =>
        new HeaderResult(new HeaderResult(Results.Json(job, CoreJson.Wire.ExportJob), "Location", $"/{Routes.ExportJobs}/{job.Id}"),
            "Retry-After", PollAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.Job(id), async (tenant, jobId) =>
    {
        var job = await jobs.GetAsync(tenant, jobId, ct);
        return job is null ? JobNotFound(jobId) : Results.Json(job, CoreJson.Wire.ExportJob);
    });

    /// <summary>
    /// A job still running is marked CANCELLING and its orchestration told to stop; it ends CANCELLED. A job that has
    /// ended is deleted (its output stays; an incremental export's change state goes with it). Answers 200 with the seed's body: the seed says 204, which cannot carry one.
    /// </summary>
    public Task<IResult> DeleteAsync(HttpRequest request, string id, DurableTaskClient client, CancellationToken ct) => api.RunAsync(request, RouteIds.Job(id), async (tenant, jobId) =>
    {

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var job = await jobs.UpdateAsync(tenant, jobId, j => j.RequestCancel(now), ct);
        if (job is null) return JobNotFound(jobId);

        if (job.Status == JobStatus.Cancelling)
        {
            await client.RaiseEventAsync(job.ComputeGatewayJobId!.ExportJob, TaskNames.CancelEvent, true, ct);
            return Results.Json(new DeleteAnswer(true, CancellingMessage), CoreJson.Wire.DeleteAnswer);
        }
        if (!await jobs.DeleteAsync(tenant, jobId, ct)) return JobNotFound(jobId);
        if (job.Incremental is not null) await changeStates.DeleteAsync(tenant, jobId, ct);
        return Results.Json(new DeleteAnswer(true, DeletedMessage), CoreJson.Wire.DeleteAnswer);
    });


    private static IResult JobNotFound(long id) => Problems.NotFound("id", $"There is no export job {id} in this sandbox.");
}
