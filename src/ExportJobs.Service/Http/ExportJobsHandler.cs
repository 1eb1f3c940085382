using ExportJobs.Core;
using ExportJobs.Service.Access;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Http;

/// <summary>The four <c>/export/jobs</c> endpoints, host-neutral: each host maps its routes onto these methods.</summary>
public sealed class ExportJobsHandler(
    ApiAccess access,
    JobStore jobs,
    DatasetStore datasets,
    MergePolicyStore mergePolicies,
    IOptions<ApiLimitsOptions> limits,
    TimeProvider time,
    ILogger<ExportJobsHandler> log)
{
    public const string CancellingMessage = "Export job has been marked for cancelling";
    public const string DeletedMessage = "Export job has been deleted";

    public async Task<IResult> ListAsync(HttpRequest request, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        var problems = new ProblemList();
        var query = JobListQuery.Parse(request.Query["limit"], request.Query["offset"], request.Query["status"], problems);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        var (page, more) = await jobs.ListAsync(tenant, query, ct);
        var next = more ? query.NextLink(JobCursor.Of(page[^1])) : null;
        return Results.Json(
            new ExportJobPage(page, new PageInfo("createdTime", "desc", query.RawOffset, query.Limit), new PageLink(next)),
            CoreJson.Wire.ExportJobPage);
    }

    public async Task<IResult> CreateAsync(HttpRequest request, DurableTaskClient client, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.ExportJobRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var problems = ExportJobRequestValidator.Validate(body);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);
        var tenantDatasets = await datasets.ListAsync(tenant, ct);
        if (!tenantDatasets.Any(d => d.Id == body.Destination!.DatasetId))
            return Problems.Invalid("destination.datasetId", $"There is no dataset '{body.Destination!.DatasetId}' in this sandbox.");
        var (outputSchema, schemaProblem) = ExportSchema.Resolve(body, tenantDatasets);
        if (schemaProblem is not null) return Problems.Invalid([schemaProblem]);
        var policy = body.MergePolicy?.Id is { } policyId ? await mergePolicies.GetAsync(tenant, policyId, ct) : await mergePolicies.GetDefaultAsync(tenant, ct);
        if (policy is null) return Problems.Invalid("mergePolicy.id", $"There is no merge policy '{body.MergePolicy!.Id}' in this sandbox.");
        if (body.MergePolicy?.Version is { } version && version != policy.Version)
            return Problems.Invalid("mergePolicy.version", $"Merge policy '{policy.Id}' is at version {policy.Version}, not {version}.");

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string requestId = request.Headers["x-request-id"] is { Count: 1 } given && Ids.IsRequestId(given.ToString()) ? given.ToString() : Guid.NewGuid().ToString();
        var mergePolicy = new MergePolicyRef { Id = policy.Id, Version = policy.Version, AttributeMerge = policy.AttributeMerge };
        var job = await jobs.CreateAsync(tenant, id => NewJob(tenant, id, body, mergePolicy, now, requestId), ct, outputSchema?.ToJson().ToJsonString());

        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TaskNames.ExportJobOrchestrator,
                new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id),
                new StartOrchestrationOptions(job.ComputeGatewayJobId!.ExportJob),
                ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Export job {JobId} could not be scheduled", job.Id);
            await jobs.UpdateAsync(tenant, job.Id, j => j with
            {
                Status = JobStatus.Failed,
                Errors = [new JobError(ExportErrorCodes.ScheduleFailed, "The export could not be scheduled; the job was not started.", null)],
            }, CancellationToken.None);
            return Problems.Unavailable($"Export job {job.Id} was recorded but could not be started; it is marked FAILED. Try again.");
        }
        return Results.Json(job, CoreJson.Wire.ExportJob);
    }

    public async Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.TryParseJobId(id, out long jobId)) return Problems.Invalid("id", "A job id is a positive integer.");
        var job = await jobs.GetAsync(tenant, jobId, ct);
        return job is null ? JobNotFound(jobId) : Results.Json(job, CoreJson.Wire.ExportJob);
    }

    /// <summary>
    /// A job still running is marked CANCELLING and its orchestration told to stop; it ends CANCELLED. A job that has
    /// ended is deleted (its output stays). Answers 200 with the seed's body: the seed says 204, which cannot carry one.
    /// </summary>
    public async Task<IResult> DeleteAsync(HttpRequest request, string id, DurableTaskClient client, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.TryParseJobId(id, out long jobId)) return Problems.Invalid("id", "A job id is a positive integer.");

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var job = await jobs.UpdateAsync(tenant, jobId,
            j => JobStatus.CanMove(j.Status, JobStatus.Cancelling) ? j with { Status = JobStatus.Cancelling, UpdateTime = now } : null, ct);
        if (job is null) return JobNotFound(jobId);

        if (job.Status == JobStatus.Cancelling)
        {
            await client.RaiseEventAsync(job.ComputeGatewayJobId!.ExportJob, TaskNames.CancelEvent, true, ct);
            return Results.Json(new DeleteAnswer(true, CancellingMessage), CoreJson.Wire.DeleteAnswer);
        }
        return await jobs.DeleteAsync(tenant, jobId, ct)
            ? Results.Json(new DeleteAnswer(true, DeletedMessage), CoreJson.Wire.DeleteAnswer)
            : JobNotFound(jobId);
    }

    private static IResult JobNotFound(long id) => Problems.NotFound("id", $"There is no export job {id} in this sandbox.");

    private static ExportJob NewJob(Tenant tenant, long id, ExportJobRequest body, MergePolicyRef mergePolicy, long now, string requestId)
    {
        var segments = body.Filter?.Segments?.Select(s => s with
        {
            SegmentNs = s.SegmentNs ?? ExportSelection.DefaultSegmentNamespace,
            Status = s.Status ?? [ExportJobRequestValidator.Realized],
        }).ToList();
        bool perSegment = body.Destination!.SegmentPerBatch == true;
        return new ExportJob
        {
            Id = id,
            Destination = new JobDestination
            {
                DatasetId = body.Destination!.DatasetId,
                SegmentPerBatch = perSegment,
                BatchId = perSegment ? null : Ids.NewBatchId(),
                Batches = perSegment
                    ? segments!.Select(s => new SegmentBatch { SegmentId = s.SegmentId, SegmentNs = s.SegmentNs, Status = s.Status, BatchId = Ids.NewBatchId() }).ToList()
                    : null,
            },
            Fields = body.Fields,
            Schema = body.Schema!,
            ImsOrgId = tenant.OrgId,
            Status = JobStatus.New,
            Filter = body.Filter is null ? null : body.Filter with { Segments = segments },
            AdditionalFields = body.AdditionalFields,
            MergePolicy = mergePolicy,
            EvaluationInfo = body.EvaluationInfo,
            Metrics = new JobMetrics { TotalTime = Timing.Started(now) },
            ComputeGatewayJobId = new ComputeGatewayJobId(TaskNames.InstanceIdOf(tenant.OrgId, tenant.Sandbox, id)),
            CreationTime = now,
            UpdateTime = now,
            RequestId = requestId,
        };
    }
}
