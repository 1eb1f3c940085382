using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Telemetry;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Jobs;

/// <summary>How a job comes to be, from the API or from a schedule: checked against the tenant's data, recorded, started.</summary>
public sealed class ExportJobCreator(
    JobStore jobs, DatasetStore datasets, MergePolicyStore mergePolicies, SegmentDefinitionStore segmentDefinitions, ChangeStates changeStates,
    IOptions<CallbackOptions> callbacks, TimeProvider time, ILogger<ExportJobCreator> log)
{
    /// <summary>The most PQL text one job can carry (its segments' expressions, kept beside the job in one Table property).</summary>
    public const int MaxSegmentExpressionsLength = 30_000;

    /// <summary>
    /// What a valid payload resolves to before a job is recorded. <c>SegmentExpressions</c>: for segmentation, each
    /// requested segment's PQL as it is now, so that every shard evaluates the same definitions.
    /// </summary>
    public sealed record Plan(ExportJobRequest Request, MergePolicyRef MergePolicy, SchemaNode? OutputSchema, IReadOnlyDictionary<string, string>? SegmentExpressions);

    /// <summary>Checks a payload against the contract and the tenant's datasets and merge policies.</summary>
    public async Task<(Plan? Plan, IReadOnlyList<Problem> Problems)> CheckAsync(Tenant tenant, ExportJobRequest request, CancellationToken ct)
    {
        var problems = ExportJobRequestValidator.Validate(request);
        if (request.Callback is { } callback) CallbackRules.Check(callback, callbacks.Value.Policy, problems);
        if (!problems.IsEmpty) return (null, problems.Items.DistinctBy(p => p.Field).ToList());
        var tenantDatasets = await datasets.ListAsync(tenant, ct);
        if (!tenantDatasets.Any(d => d.Id == request.Destination!.DatasetId))
            return (null, [new Problem("destination.datasetId", $"There is no dataset '{request.Destination!.DatasetId}' in this sandbox.")]);
        var (outputSchema, schemaProblem) = ExportSchema.Resolve(request, tenantDatasets);
        if (schemaProblem is not null) return (null, [schemaProblem]);
        var (definitions, segmentProblem) = await SegmentDefinitionsAsync(tenant, request, ct);
        if (segmentProblem is not null) return (null, [segmentProblem]);
        var expressions = request.EvaluationInfo?.Segmentation == true ? definitions.ToDictionary(d => d.Id!, d => d.Expression!.Value!, StringComparer.Ordinal) : null;
        if (expressions is not null && expressions.Sum(e => e.Key.Length + e.Value.Length) > MaxSegmentExpressionsLength)
            return (null, [new Problem("filter.segments", $"The requested segments' expressions are longer than {MaxSegmentExpressionsLength} characters together; evaluate them in several jobs.")]);

        if (await PredecessorProblemAsync(tenant, request, ct) is { } predecessorProblem) return (null, [predecessorProblem]);

        string? policyId = request.MergePolicy?.Id ?? definitions.Select(d => d.MergePolicyId).FirstOrDefault(id => id is not null);
        var policy = policyId is not null ? await mergePolicies.GetAsync(tenant, policyId, ct) : await mergePolicies.GetDefaultAsync(tenant, ct);
        if (policy is null) return (null, [new Problem("mergePolicy.id", $"There is no merge policy '{policyId}' in this sandbox.")]);
        if (request.MergePolicy?.Version is { } version && version != policy.Version)
            return (null, [new Problem("mergePolicy.version", $"Merge policy '{policy.Id}' is at version {policy.Version}, not {version}.")]);
        return (new Plan(request, new MergePolicyRef { Id = policy.Id, Version = policy.Version, AttributeMerge = policy.AttributeMerge, IdentityGraph = policy.IdentityGraph }, outputSchema, expressions), []);
    }

    /// <summary>
    /// An incremental export's predecessor must be a job of the sandbox that succeeded as an incremental export of the
    /// same audience, its state still kept (docs/api.md, "Incremental exports").
    /// </summary>
    private async Task<Problem?> PredecessorProblemAsync(Tenant tenant, ExportJobRequest request, CancellationToken ct)
    {
        if (request.Incremental?.AfterJobId is not { } after) return null;
        const string field = "incremental.afterJobId";
        var predecessor = await jobs.GetAsync(tenant, after, ct);
        if (predecessor is null) return new Problem(field, $"There is no export job {after} in this sandbox.");
        if (predecessor.Incremental is null) return new Problem(field, $"Export job {after} was not incremental: it kept no state to diff against. Start a chain with \"incremental\": {{}}.");
        if (predecessor.Status != JobStatus.Succeeded || !await changeStates.IsCompleteAsync(tenant, after, ct))
            return new Problem(field, $"Export job {after} did not succeed, or its state was released (a later run of its schedule succeeded); name the latest successful run.");
        if (!predecessor.SameAudienceAs(request))
            return new Problem(field, $"Export job {after} exported another audience: its fields, merge policy, filter, eventList and segmentPerBatch must be the same.");
        return null;
    }

    /// <summary>
    /// The definitions of the requested <c>ups</c> segments, in the order requested: every one must exist when the job
    /// evaluates them; otherwise those that exist (the first with a merge policy gives the job's default).
    /// </summary>
    private async Task<(List<SegmentDefinition> Definitions, Problem? Problem)> SegmentDefinitionsAsync(Tenant tenant, ExportJobRequest request, CancellationToken ct)
    {
        bool segmentation = request.EvaluationInfo?.Segmentation == true;
        var found = new List<SegmentDefinition>();
        if (!segmentation && request.MergePolicy?.Id is not null) return (found, null);
        var segments = request.Filter?.Segments ?? [];
        for (int i = 0; i < segments.Count; i++)
        {
            if ((segments[i].SegmentNs ?? SegmentEvaluation.Namespace) != SegmentEvaluation.Namespace || found.Any(d => d.Id == segments[i].SegmentId)) continue;
            var definition = await segmentDefinitions.GetAsync(tenant, segments[i].SegmentId!, ct);
            if (definition is not null) found.Add(definition);
            else if (segmentation)
                return (found, new Problem($"filter.segments[{i}].segmentId",
                    $"There is no segment definition '{segments[i].SegmentId}' in this sandbox; evaluationInfo.segmentation evaluates each requested segment's definition."));
        }
        return (found, null);
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
        if (plan.SegmentExpressions is not null)
            hidden[JobStore.Hidden.SegmentExpressions] = JsonSerializer.Serialize(plan.SegmentExpressions.ToDictionary(), CoreJson.Wire.DictionaryStringString);
        using var span = ExportTelemetry.Source.StartActivity("export.create");
        var job = await jobs.CreateAsync(tenant, id => NewJob(tenant, id, plan, now, requestId, scheduleId), ct, hidden);
        span?.SetTag("exportjobs.job.id", job.Id).SetTag("exportjobs.org", tenant.OrgId).SetTag("exportjobs.sandbox", tenant.Sandbox);
        using var scope = ExportTelemetry.Scope(log, tenant.OrgId, tenant.Sandbox, job.Id);
        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                TaskNames.ExportJobOrchestrator,
                new ExportJobInput(tenant.OrgId, tenant.Sandbox, job.Id, job.Callback is null ? 0 : callbacks.Value.MaxAttempts, ExportTelemetry.CurrentTraceParent()),
                new StartOrchestrationOptions(job.ComputeGatewayJobId!.ExportJob),
                ct);
            return (job, true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Export job {JobId} could not be scheduled", job.Id);
            var error = new JobError(ExportErrorCodes.ScheduleFailed, "The export could not be scheduled; the job was not started.", null);
            var failed = await jobs.UpdateAsync(tenant, job.Id, j => j.Fail(time.GetUtcNow().ToUnixTimeMilliseconds(), error), CancellationToken.None);
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
            Incremental = body.Incremental,
        };
    }
}
