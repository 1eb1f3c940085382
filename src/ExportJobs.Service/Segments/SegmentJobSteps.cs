using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Segments;

/// <summary>
/// The work of each activity of a segment job, host-neutral. A shard's profiles are read, merged and evaluated by
/// <see cref="ShardProfiles"/>, the one path exports with <c>evaluationInfo.segmentation</c> take too, so memberships are
/// recorded the same way: as the shard's fragments of the job's membership batch (one per merge policy of its
/// segments), which later exports read as any other fragment. Every step can run twice without harm.
/// </summary>
public sealed class SegmentJobSteps(
    SegmentJobStore jobs, ProfileStore profiles, ShardProfiles shardProfiles, MergePolicyStore mergePolicies,
    IOptions<ExportStorageOptions> options, TimeProvider time, ILogger<SegmentJobSteps> log)
{
    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>The membership batches a job records: one per merge policy its segments are evaluated by, in the order of first use.</summary>
    public static IReadOnlyList<string> MembershipBatchIds(SegmentJob job) =>
        PolicyGroups(job).Select((_, pass) => $"{ProfileStore.KeptApartBatchPrefix}s{job.Id}p{pass}").ToList();

    private static List<IGrouping<string, SegmentJobSegment>> PolicyGroups(SegmentJob job) =>
        job.Segments.GroupBy(s => s.Segment.MergePolicyId, StringComparer.Ordinal).ToList();

    public async Task<SegmentJobPlan> PrepareAsync(SegmentJobInput input, CancellationToken ct)
    {
        var o = options.Value;
        var job = await jobs.GetAsync(input.Tenant, input.JobId, ct);
        bool withEvents = job is not null && job.Segments.Any(s => PqlCompiler.Compile(s.Segment.Expression.Value!).UsesEvents);
        var sizes = await profiles.ListShardSizesAsync(withEvents ? [FragmentKind.Profile, FragmentKind.Event] : [FragmentKind.Profile], input.Tenant, ct);
        long now = Now;
        var started = await jobs.UpdateAsync(input.Tenant, input.JobId, j => j.Start(now, sizes.Count), ct);
        if (started is null || started.Status != JobStatus.Processing) return new SegmentJobPlan(false, [], o.MaxParallelShards, o.ShardAttempts);
        var groups = ShardGroups.Of(sizes, o.ShardGroupBytes);
        log.LogInformation("Segment job {JobId} of {Org}/{Sandbox}: {Segments} segments over {Shards} shards in {Groups} activities",
            input.JobId, input.OrgId, input.Sandbox, started.Segments.Count, sizes.Count, groups.Count);
        return new SegmentJobPlan(true, groups, o.MaxParallelShards, o.ShardAttempts);
    }

    /// <summary>Evaluates a group of shards, one pass per merge policy of the job's segments; the job's progress written once.</summary>
    public async Task<SegmentShardResult> EvaluateShardsAsync(SegmentShardTask task, CancellationToken ct)
    {
        var tenant = task.Job.Tenant;
        var job = await jobs.GetAsync(tenant, task.Job.JobId, ct) ?? throw new InvalidOperationException($"Segment job {task.Job.JobId} has no record.");
        long budget = options.Value.EvaluationBudget / options.Value.ShardCount * task.Shards.Length;
        var batches = MembershipBatchIds(job);
        long profilesSeen = 0;
        var byPolicy = new Dictionary<string, long>(StringComparer.Ordinal);
        var tallies = job.Segments.ToDictionary(s => s.SegmentId, _ => new SegmentCounts(), StringComparer.Ordinal);
        foreach (var (group, pass) in PolicyGroups(job).Select((g, i) => (g, i)))
        {
            var policy = await mergePolicies.GetAsync(tenant, group.Key, ct);
            var evaluation = SegmentEvaluation.Compile(group.ToDictionary(s => s.SegmentId, s => s.Segment.Expression.Value!, StringComparer.Ordinal),
                DateTimeOffset.FromUnixTimeMilliseconds(job.CreationTime), budget);
            var reading = new ShardReading(MergeRule.Of(policy?.AttributeMerge), evaluation, batches[pass], job.CreationTime, evaluation.UsesEvents, false, evaluation.MembersRead,
                EventMembers: evaluation.EventMembersRead);
            long passProfiles = 0;
            foreach (int shard in task.Shards)
                await foreach (var profile in shardProfiles.ReadAsync(tenant, shard, reading, ct))
                {
                    passProfiles++;
                    foreach (var segment in group) tallies[segment.SegmentId].Count(segment.SegmentId, profile);
                }
            byPolicy[group.Key] = passProfiles;
            profilesSeen = Math.Max(profilesSeen, passProfiles);
        }
        long now = Now;
        await jobs.UpdateAsync(tenant, job.Number, j => j.ShardsDone(now, task.Shards.Length), ct);
        log.LogInformation("Segment job {JobId}: shards {Shards} evaluated, {Profiles} profiles", job.Id, string.Join(',', task.Shards), profilesSeen);
        return new SegmentShardResult(task.Shards, profilesSeen, byPolicy, tallies.ToDictionary(t => t.Key, t => t.Value.ToResult(), StringComparer.Ordinal));
    }

    public async Task<string> FinalizeAsync(SegmentFinalizeInput input, CancellationToken ct)
    {
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Cancelled;
        if (JobStatus.IsTerminal(job.Status)) return job.Status;
        long now = Now;
        if (input.Cancelled || job.Status == JobStatus.Cancelling)
        {
            int removed = await DeleteMembershipsAsync(tenant, job, ct);
            var cancelled = await jobs.UpdateAsync(tenant, job.Number, j => j.Cancel(now), ct);
            log.LogInformation("Segment job {JobId} cancelled; {Files} membership files removed", job.Id, removed);
            return cancelled?.Status ?? JobStatus.Cancelled;
        }

        var segments = job.Segments.Select(s => s.SegmentId).ToList();
        SegmentTally Sum(string id) => new(input.Shards.Sum(r => r.Segments[id].Realized), input.Shards.Sum(r => r.Segments[id].Exited),
            input.Shards.SelectMany(r => r.Segments[id].RealizedByNamespace).GroupBy(kv => kv.Key, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal));
        var totals = segments.ToDictionary(id => id, Sum, StringComparer.Ordinal);
        var metrics = new SegmentJobMetrics
        {
            TotalProfiles = input.Shards.Sum(r => r.Profiles),
            SegmentedProfileCounter = totals.ToDictionary(t => t.Key, t => t.Value.Realized, StringComparer.Ordinal),
            SegmentedProfileByNamespaceCounter = totals.ToDictionary(t => t.Key, t => t.Value.RealizedByNamespace, StringComparer.Ordinal),
            SegmentedProfileByStatusCounter = totals.ToDictionary(t => t.Key, t => new Dictionary<string, long>(StringComparer.Ordinal)
            {
                [ExportJobRequestValidator.Realized] = t.Value.Realized,
                [ExportJobRequestValidator.Exited] = t.Value.Exited,
            }, StringComparer.Ordinal),
            TotalProfilesByMergePolicy = input.Shards.SelectMany(r => r.ProfilesByMergePolicy).GroupBy(kv => kv.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal),
            Progress = job.Metrics?.Progress is { } progress ? progress with { ShardsDone = progress.Shards } : null,
        };
        var done = await jobs.UpdateAsync(tenant, job.Number, j => j.Succeed(now, metrics), ct);
        log.LogInformation("Segment job {JobId} of {Org}/{Sandbox} ended {Status}: {Profiles} profiles", job.Id, input.Job.OrgId, input.Job.Sandbox, done?.Status, metrics.TotalProfiles);
        return done?.Status ?? JobStatus.Cancelled;
    }

    public async Task<string> FailAsync(SegmentFailInput input, CancellationToken ct)
    {
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Failed;
        await DeleteMembershipsAsync(tenant, job, ct);
        long now = Now;
        var failed = await jobs.UpdateAsync(tenant, job.Number, j => j.Fail(now, JobError.Of(input.Code, input.Message, input.CallStack)), ct);
        log.LogWarning("Segment job {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", job.Id, input.Job.OrgId, input.Job.Sandbox, failed?.Status, input.Message);
        return failed?.Status ?? JobStatus.Failed;
    }

    /// <summary>Removes the memberships a job that did not succeed recorded: what it found is not kept.</summary>
    private async Task<int> DeleteMembershipsAsync(Tenant tenant, SegmentJob job, CancellationToken ct)
    {
        int removed = 0;
        foreach (string batch in MembershipBatchIds(job)) removed += await profiles.DeleteBatchAsync(FragmentKind.Profile, tenant, batch, ct);
        return removed;
    }
}
