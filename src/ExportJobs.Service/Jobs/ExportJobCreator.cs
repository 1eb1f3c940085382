using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Jobs;

/// <summary>How a job comes to be, from the API or from a schedule: checked against the tenant's data, recorded, started.</summary>
public sealed class ExportJobCreator(
    JobStore jobs, DatasetStore datasets, MergePolicyStore mergePolicies, IOptions<CallbackOptions> callbacks, TimeProvider time, ILogger<ExportJobCreator> log)
{
    /// <summary>What a valid payload resolves to before a job is recorded.</summary>
    public sealed record Plan(ExportJobRequest Request, MergePolicyRef MergePolicy, SchemaNode? OutputSchema);

    /// <summary>Checks a payload against the contract and the tenant's datasets and merge policies.</summary>
    public async Task<(Plan? Plan, IReadOnlyList<Problem> Problems)> CheckAsync(Tenant tenant, ExportJobRequest request, CancellationToken ct)
    {
        var problems = ExportJobRequestValidator.Validate(request);
        if (request.Callback is { } callback) CallbackRules.Check(callback, callbacks.Value.AllowLoopback, problems);
        if (!problems.IsEmpty) return (null, problems.Items.DistinctBy(p => p.Field).ToList());
        var tenantDatasets = await datasets.ListAsync(tenant, ct);
        if (!tenantDatasets.Any(d => d.Id == request.Destination!.DatasetId))
            return (null, [new Problem("destination.datasetId", $"There is no dataset '{request.Destination!.DatasetId}' in this sandbox.")]);
        var (outputSchema, schemaProblem) = ExportSchema.Resolve(request, tenantDatasets);
        if (schemaProblem is not null) return (null, [schemaProblem]);
        var policy = request.MergePolicy?.Id is { } policyId ? await mergePolicies.GetAsync(tenant, policyId, ct) : await mergePolicies.GetDefaultAsync(tenant, ct);
        if (policy is null) return (null, [new Problem("mergePolicy.id", $"There is no merge policy '{request.MergePolicy!.Id}' in this sandbox.")]);
        if (request.MergePolicy?.Version is { } version && version != policy.Version)
            return (null, [new Problem("mergePolicy.version", $"Merge policy '{policy.Id}' is at version {policy.Version}, not {version}.")]);
        return (new Plan(request, new MergePolicyRef { Id = policy.Id, Version = policy.Version, AttributeMerge = policy.AttributeMerge }, outputSchema), []);
    }

    /// <summary>
    /// Records the job and starts its orchestration. When the orchestration cannot be started the job is left FAILED
    /// (never NEW with nothing behind it) and <c>Started</c> is false.
    /// </summary>
    public async Task<(ExportJob Job, bool Started)> CreateAsync(Tenant tenant, Plan plan, DurableTaskClient client, string requestId, string? scheduleId, CancellationToken ct)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var hidden = new Dictionary<JobStore.Hidden, string>();
        if (plan.OutputSchema is not null) hidden[JobStore.Hidden.OutputSchema] = plan.OutputSchema.ToJson().ToJsonString();
        if (plan.Request.Callback?.Secret is { } secret) hidden[JobStore.Hidden.CallbackSecret] = secret;
        var job = await jobs.CreateAsync(tenant, id => NewJob(tenant, id, plan, now, requestId, scheduleId), ct, hidden);
        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TaskNames.ExportJobOrchestrator,
                new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id, job.Callback is null ? 0 : callbacks.Value.MaxAttempts),
                new StartOrchestrationOptions(job.ComputeGatewayJobId!.ExportJob),
                ct);
            return (job, true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Export job {JobId} could not be scheduled", job.Id);
            var failed = await jobs.UpdateAsync(tenant, job.Id, j => j with
            {
                Status = JobStatus.Failed,
                Errors = [new JobError(ExportErrorCodes.ScheduleFailed, "The export could not be scheduled; the job was not started.", null)],
            }, CancellationToken.None);
            return (failed ?? job, false);
        }
    }

    private static ExportJob NewJob(Tenant tenant, long id, Plan plan, long now, string requestId, string? scheduleId)
    {
        var body = plan.Request;
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
                DatasetId = body.Destination.DatasetId,
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
            MergePolicy = plan.MergePolicy,
            EvaluationInfo = body.EvaluationInfo,
            Metrics = new JobMetrics { TotalTime = Timing.Started(now) },
            ComputeGatewayJobId = new ComputeGatewayJobId(TaskNames.InstanceIdOf(tenant.OrgId, tenant.Sandbox, id)),
            CreationTime = now,
            UpdateTime = now,
            RequestId = requestId,
            ScheduleId = scheduleId,
            Callback = body.Callback is { } callback ? new JobCallback { Url = callback.Url!, Attempts = [] } : null,
        };
    }
}
