using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Segments;

/// <summary>How a segment job comes to be, from the API or a <c>batch_segmentation</c> schedule: its segments resolved, recorded, started.</summary>
public sealed class SegmentJobCreator(
    SegmentJobStore jobs, SegmentDefinitionStore definitions, MergePolicyStore mergePolicies, TimeProvider time, ILogger<SegmentJobCreator> log)
{
    /// <summary>The most PQL text one job carries (its segments' expressions are kept in its record).</summary>
    public const int MaxExpressionChars = 24_000;

    /// <summary>
    /// The segments a request names, each with its definition as it is now and the merge policy it is evaluated by
    /// (the definition's, else the sandbox's default). Every named definition must exist and be evaluated without an
    /// identity graph (segments of <c>pdg</c> policies are evaluated by exports with <c>evaluationInfo.segmentation</c>);
    /// <c>*</c> takes every definition of the sandbox that is.
    /// </summary>
    public async Task<(List<SegmentJobSegment>? Segments, IReadOnlyList<Problem> Problems)> ResolveAsync(Tenant tenant, SegmentJobRequest request, CancellationToken ct)
    {
        var problems = SegmentJobRules.Check(request);
        if (!problems.IsEmpty) return (null, problems.Items);
        bool all = request.Segments![0].SegmentId == SegmentJobRules.All;
        var named = all ? await definitions.ListAsync(tenant, ct) : [];
        if (all && named.Count == 0) return (null, [new Problem("segments[0].segmentId", "There is no segment definition in this sandbox.")]);
        var policies = new Dictionary<string, MergePolicy?>(StringComparer.Ordinal);
        var segments = new List<SegmentJobSegment>();
        for (int i = 0; i < (all ? named.Count : request.Segments.Count); i++)
        {
            string field = all ? "segments[0].segmentId" : $"segments[{i}].segmentId";
            var definition = all ? named[i] : await definitions.GetAsync(tenant, request.Segments[i].SegmentId!, ct);
            if (definition is null) return (null, [new Problem(field, $"There is no segment definition '{request.Segments[i].SegmentId}' in this sandbox.")]);
            string policyKey = definition.MergePolicyId ?? "";
            if (!policies.TryGetValue(policyKey, out var policy))
                policies[policyKey] = policy = definition.MergePolicyId is { } id ? await mergePolicies.GetAsync(tenant, id, ct) : await mergePolicies.GetDefaultAsync(tenant, ct);
            if (policy is null) return (null, [new Problem(field, $"Segment definition '{definition.Id}' names merge policy '{definition.MergePolicyId}', which is not in this sandbox.")]);
            if (policy.IdentityGraph?.Type == MergePolicyRules.Pdg)
            {
                if (all) continue;
                return (null, [new Problem(field, $"Segment definition '{definition.Id}' is evaluated by merge policy '{policy.Id}', which stitches profiles (pdg); segment jobs evaluate unstitched profiles: evaluate it with an export job's evaluationInfo.segmentation.")]);
            }
            segments.Add(new SegmentJobSegment
            {
                SegmentId = definition.Id!,
                Segment = new SegmentJobDefinition
                {
                    Id = definition.Id!,
                    Expression = definition.Expression!,
                    MergePolicyId = policy.Id!,
                    MergePolicy = new SegmentJobMergePolicy(policy.Id!, policy.Version ?? 1),
                },
            });
        }
        if (segments.Count == 0) return (null, [new Problem("segments[0].segmentId", "Every segment definition of this sandbox is evaluated by a pdg merge policy; segment jobs evaluate unstitched profiles.")]);
        if (segments.Sum(s => s.SegmentId.Length + s.Segment.Expression.Value!.Length) > MaxExpressionChars)
            return (null, [new Problem("segments", $"The segments' expressions are longer than {MaxExpressionChars} characters together; evaluate them in several jobs.")]);
        return (segments, []);
    }

    /// <summary>Records the job and starts its orchestration; a job that cannot be started is left FAILED (never NEW with nothing behind it).</summary>
    public async Task<(SegmentJob Job, bool Started)> CreateAsync(Tenant tenant, List<SegmentJobSegment> segments, DurableTaskClient client, string requestId,
        SegmentJobProperties? schedule, CancellationToken ct)
    {
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var job = await jobs.CreateAsync(tenant, id =>
        {
            string href = $"/segment/jobs/{id}";
            return new SegmentJob
            {
                Id = id.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ImsOrgId = tenant.OrgId,
                Sandbox = new SegmentSandbox(tenant.Sandbox),
                Source = schedule is null ? "api" : "scheduler",
                Status = JobStatus.New,
                Segments = segments,
                Metrics = new SegmentJobMetrics { TotalTime = Timing.Started(now) },
                RequestId = requestId,
                Properties = schedule,
                Links = new SegmentJobLinks(new SegmentJobLink(href, "DELETE"), new SegmentJobLink(href, "GET")),
                CreationTime = now,
                UpdateTime = now,
                UpdateEpoch = now / 1000,
            };
        }, ct);
        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(TaskNames.SegmentJobOrchestrator, new SegmentJobInput(tenant.OrgId, tenant.Sandbox, job.Number),
                new StartOrchestrationOptions(TaskNames.SegmentJobInstanceIdOf(tenant.OrgId, tenant.Sandbox, job.Number)), ct);
            return (job, true);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Segment job {JobId} could not be scheduled", job.Id);
            var error = new JobError(ExportErrorCodes.ScheduleFailed, "The segment job could not be scheduled; it was not started.", null);
            var failed = await jobs.UpdateAsync(tenant, job.Number, j => j.Fail(time.GetUtcNow().ToUnixTimeMilliseconds(), error), CancellationToken.None);
            return (failed ?? job, false);
        }
    }
}
