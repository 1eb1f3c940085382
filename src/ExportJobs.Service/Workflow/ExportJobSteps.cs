using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// The work of each activity of an export, host-neutral. Every step can run twice without harm: shard parts have
/// deterministic names and are replaced, and state changes go through the job state machine.
/// </summary>
public sealed class ExportJobSteps(
    JobStore jobs,
    DatasetStore datasets,
    ProfileStore profiles,
    ShardExporter shards,
    ShardCompactor compactor,
    GraphShuffle shuffle,
    ChangeStates changeStates,
    DatasetBatchFiles batchFiles,
    IOptions<ExportStorageOptions> options,
    ExportTelemetry telemetry,
    TimeProvider time,
    ILogger<ExportJobSteps> log)
{
    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    public async Task<ExportPlan> PrepareAsync(ExportJobInput input, CancellationToken ct)
    {
        using var span = ExportTelemetry.StartStep("prepare", input);
        using var scope = Scope(input);
        var o = options.Value;
        var current = await jobs.GetAsync(input.Tenant, input.JobId, ct);
        bool withEvents = current?.AdditionalFields?.EventList is not null || current?.Filter?.EmptyProfiles == true;
        long listedAt = Now;
        var profileRuns = await profiles.ListShardRunsAsync(FragmentKind.Profile, input.Tenant, ct);
        var eventRuns = withEvents ? await profiles.ListShardRunsAsync(FragmentKind.Event, input.Tenant, ct) : [];
        var sizes = ProfileStore.BytesByShard(profileRuns, eventRuns);
        var groups = ShardGroups.Of(sizes, o.ShardGroupBytes);
        bool stitched = current?.MergePolicy?.Stitched == true;
        var listed = stitched ? null : Listed(input.Tenant, sizes.Keys, profileRuns, withEvents ? eventRuns : null);
        long now = Now;
        // A pdg export's progress counts the shards it routes, then the partitions it exports.
        var job = await jobs.UpdateAsync(input.Tenant, input.JobId, j => j.Start(now, sizes.Count + (stitched ? o.ShardCount : 0)), ct);
        if (job is null || job.Status != JobStatus.Processing) return new ExportPlan(false, [], o.MaxParallelShards, o.ShardAttempts);
        if (current?.Status == JobStatus.New) telemetry.Started(input);

        log.LogInformation("Export job {JobId} of {Org}/{Sandbox}: {Shards} shards to export in {Groups} activities",
            input.JobId, input.OrgId, input.Sandbox, sizes.Count, groups.Count);
        return new ExportPlan(true, groups, o.MaxParallelShards, o.ShardAttempts, stitched, o.ShardGroupBytes, o.ShardCount,
            stitched ? [.. Enumerable.Range(0, o.ShardCount).Select(s => sizes.GetValueOrDefault(s))] : null, listed, listedAt);
    }

    /// <summary>
    /// The runs of the shards a read would find nothing to compact nor delete in, as listed, for the activities to read
    /// without listing them again (<see cref="ListedRuns"/>), in shard order while their parts number at most
    /// <see cref="ListedPartsPerPlan"/>; a shard with something to do, or past the bound, is left to its activity.
    /// </summary>
    private List<ListedShard> Listed(Tenant tenant, IEnumerable<int> shards, SortedDictionary<int, ProfileStore.ShardRuns> profileRuns,
        SortedDictionary<int, ProfileStore.ShardRuns>? eventRuns)
    {
        var listed = new List<ListedShard>();
        int parts = 0;
        foreach (int shard in shards)
        {
            var own = profileRuns.GetValueOrDefault(shard);
            var events = eventRuns?.GetValueOrDefault(shard);
            if ((own is not null && !compactor.NothingToDoBeforeRead(own)) || (events is not null && !compactor.NothingToDoBeforeRead(events))) continue;
            parts += new[] { own, events }.Sum(runs => runs?.Live.Sum(r => r.Parts.Count) ?? 0);
            if (parts > ListedPartsPerPlan) break;
            string prefix = ProfileStore.ShardPrefix(tenant, shard);
            listed.Add(new ListedShard(shard, [.. (own?.Live ?? []).Select(r => ListedRun.Of(r, prefix))],
                eventRuns is null ? null : [.. (events?.Live ?? []).Select(r => ListedRun.Of(r, prefix))]));
        }
        return listed;
    }

    /// <summary>
    /// How many parts of runs a plan hands on at most, at about 90 bytes each in the orchestration's messages: a plan
    /// stays well under the 45 KB over which the Durable Task backend keeps a message in a blob, fetched again at each
    /// replay (a tenant of many shards, or of large ones, would otherwise make every step of its export slower).
    /// </summary>
    internal const int ListedPartsPerPlan = 256;

    /// <summary>
    /// The runs Prepare listed for a task's shards, when the task starts within <see cref="ListingTrust"/> of the
    /// listing; later, each shard is listed again.
    /// </summary>
    private Dictionary<int, ListedShard>? ListedRuns(ShardTask task) =>
        task.Listed is { } listed && time.GetUtcNow() - DateTimeOffset.FromUnixTimeMilliseconds(task.ListedAtMs) < ListingTrust
            ? listed.ToDictionary(s => s.Shard) : null;

    /// <summary>
    /// A third of the time runs a compaction covers stay for (<see cref="ShardCompactor.CoveredGrace"/>): runs listed
    /// before a compaction covered them are still there for a read that starts within it and takes less than the rest.
    /// </summary>
    private static readonly TimeSpan ListingTrust = ShardCompactor.CoveredGrace / 3;

    /// <summary>The first stage of a <c>pdg</c> export: a group of shards' fragments written to the partitions of their graphs.</summary>
    public async Task<RouteResult> RouteShardsAsync(ShardTask task, CancellationToken ct)
    {
        using var span = ExportTelemetry.StartStep("route", task.Job, task.Shards);
        using var scope = Scope(task.Job);
        var tenant = task.Job.Tenant;
        var job = await RecordOfAsync(task.Job, ct);
        bool evaluates = job.EvaluationInfo?.Segmentation == true;
        // Events when the job attaches them, exports profiles of events alone, or evaluates segments (which may read them).
        bool withEvents = job.AdditionalFields?.EventList is not null || job.Filter?.EmptyProfiles == true || evaluates;
        var kinds = withEvents ? new[] { FragmentKind.Profile, FragmentKind.Event } : [FragmentKind.Profile];
        var bytes = new long[options.Value.ShardCount];
        var routes = new string[task.Shards.Length][];
        int kept = 0;
        for (int i = 0; i < task.Shards.Length; i++)
        {
            var (names, written, shardKept) = await shuffle.RouteShardAsync(tenant, task.Graphs!, task.Shards[i], kinds, evaluates ? ShardExporter.MembershipBatchId(job.Id) : null, ct);
            (routes[i], kept) = (names, kept + shardKept);
            for (int p = 0; p < bytes.Length; p++) bytes[p] += written[p];
        }
        long now = Now;
        await jobs.UpdateAsync(tenant, job.Id, j => j.ShardsDone(now, task.Shards.Length), ct);
        log.LogInformation("Export job {JobId}: shards {Shards} routed to the partitions of their graphs ({Kept} of {Routes} routes kept from an earlier export)",
            task.Job.JobId, string.Join(',', task.Shards), kept, task.Shards.Length * kinds.Length);
        return new RouteResult(task.Shards, bytes, routes);
    }

    /// <summary>Exports a group of shards into the same parts; the job's record is read once and its progress written once.</summary>
    public async Task<ShardResult> ExportShardAsync(ShardTask task, CancellationToken ct)
    {
        using var span = ExportTelemetry.StartStep("shards", task.Job, task.Shards);
        using var scope = Scope(task.Job);
        var tenant = task.Job.Tenant;
        var (job, hidden) = await jobs.GetWithHiddenAsync(tenant, task.Job.JobId, [JobStore.Hidden.OutputSchema, JobStore.Hidden.SegmentExpressions], ct)
            ?? throw NoRecord(task.Job);
        var evaluation = Evaluation(job, hidden, options.Value.EvaluationBudget / options.Value.ShardCount * task.Shards.Length);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await shards.ExportAsync(tenant, job, OutputSchema(hidden), evaluation, task.Shards, task.Graphs, task.Routes, ct, ListedRuns(task));
        result = result with { Ms = watch.ElapsedMilliseconds };

        long now = Now;
        await jobs.UpdateAsync(tenant, job.Id, j => j.ShardsDone(now, task.Shards.Length), ct);
        log.LogInformation("Export job {JobId}: shards {Shards} exported {Rows} rows", task.Job.JobId, string.Join(',', task.Shards), result.Rows);
        span?.SetTag("exportjobs.rows", result.Rows);
        return result;
    }

    /// <summary>The record of a running job, which its shard activities read (a job is never deleted while it runs).</summary>
    private async Task<ExportJob> RecordOfAsync(ExportJobInput input, CancellationToken ct) =>
        await jobs.GetAsync(input.Tenant, input.JobId, ct) ?? throw NoRecord(input);

    private static InvalidOperationException NoRecord(ExportJobInput input) => new($"Export job {input.JobId} has no record.");

    private async Task<SchemaNode?> OutputSchemaAsync(Tenant tenant, long jobId, CancellationToken ct) =>
        OutputSchema(await jobs.GetHiddenAsync(tenant, jobId, [JobStore.Hidden.OutputSchema], ct));

    private static SchemaNode? OutputSchema(IReadOnlyDictionary<JobStore.Hidden, string> hidden) =>
        hidden.TryGetValue(JobStore.Hidden.OutputSchema, out var json) ? SchemaNode.Parse(JsonNode.Parse(json), "outputSchema", new ProblemList()) : null;

    /// <summary>
    /// The job's segments compiled once for this shard, with the shard's share of the job's evaluation budget; <c>now</c>
    /// is the job's creation time, the same for every shard and retry.
    /// </summary>
    private static SegmentEvaluation? Evaluation(ExportJob job, IReadOnlyDictionary<JobStore.Hidden, string> hidden, long budget) =>
        hidden.TryGetValue(JobStore.Hidden.SegmentExpressions, out var json)
            ? SegmentEvaluation.Compile(JsonSerializer.Deserialize(json, CoreJson.Wire.DictionaryStringString)!, DateTimeOffset.FromUnixTimeMilliseconds(job.CreationTime), budget)
            : null;

    public async Task<string> FinalizeAsync(FinalizeInput input, CancellationToken ct)
    {
        using var span = ExportTelemetry.StartStep("finalize", input.Job);
        using var scope = Scope(input.Job);
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Cancelled;
        if (JobStatus.IsTerminal(job.Status)) return job.Status;
        if (input.Cancelled || job.Status == JobStatus.Cancelling) return await CancelAsync(input.Job, job, ct);

        var batches = job.OutputBatchIds();
        var outputSchema = await OutputSchemaAsync(tenant, job.Id, ct);
        long files = 0, bytes = 0;
        long now = Now;
        for (int b = 0; b < batches.Count; b++)
        {
            var (batchFilesCount, batchBytes) = await CompleteBatchAsync(tenant, job, b, outputSchema, input, now, ct);
            files += batchFilesCount;
            bytes += batchBytes;
        }

        var segments = job.Filter?.Segments ?? [];
        var metrics = new JobMetrics
        {
            ProfileExportTime = Timing.Started(input.ExportStartMs).EndedAt(input.ExportEndMs),
            TotalExportedProfileCounter = input.Shards.Sum(s => s.Rows),
            ExportedProfileByNamespaceCounter = input.Shards.SelectMany(s => s.RowsByNamespace)
                .GroupBy(kv => kv.Key, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal),
            ExportedProfileBySegmentCounter = segments.Count == 0 ? null : segments
                .Select((s, i) => new SegmentCount(s.SegmentId!, s.SegmentNs!, input.Shards.Sum(r => r.RowsBySegment[i])))
                .ToList(),
            Files = files,
            Bytes = bytes,
            Progress = job.Metrics?.Progress is { } progress ? progress with { ShardsDone = progress.Shards } : null,
            Shards = [.. input.Shards.OrderBy(s => s.Shards.Length == 0 ? -1 : s.Shards[0]).Select(s => new ShardFigure(s.Shards, s.Rows, s.Ms))],
            Changes = job.Incremental is null ? null : input.Shards.Aggregate(new ChangeCounts(0, 0, 0), (sum, s) => sum + (s.Changes ?? new ChangeCounts(0, 0, 0))),
        };
        if (job.Incremental is not null) await changeStates.MarkCompleteAsync(tenant, job.Id, ct);
        var done = await jobs.UpdateAsync(tenant, job.Id, j => j.Succeed(now, metrics), ct);
        if (done is { Status: JobStatus.Succeeded }) await ReleasePredecessorAsync(tenant, job, ct);
        if (done is { Status: JobStatus.Succeeded })
        {
            telemetry.Succeeded(input.Job, metrics.TotalExportedProfileCounter ?? 0);
            log.LogInformation("Export job {JobId} of {Org}/{Sandbox} succeeded: {Profiles} profiles, {Files} files", job.Id, input.Job.OrgId, input.Job.Sandbox, metrics.TotalExportedProfileCounter, files);
            return JobStatus.Succeeded;
        }
        return done is null ? JobStatus.Cancelled : await CancelAsync(input.Job, done, ct);
    }

    /// <summary>
    /// A scheduled incremental run that succeeded releases the state of the run it diffed against: the schedule's next
    /// run diffs against this one. (A job created by hand keeps its predecessor's state until that job is deleted.)
    /// </summary>
    private async Task ReleasePredecessorAsync(Tenant tenant, ExportJob job, CancellationToken ct)
    {
        if (job.ScheduleId is null || job.Incremental?.AfterJobId is not { } after) return;
        if ((await jobs.GetAsync(tenant, after, ct))?.ScheduleId == job.ScheduleId) await changeStates.DeleteAsync(tenant, after, ct);
    }

    /// <summary>Writes a batch's manifest and its batch record; returns how many part files it has and their bytes.</summary>
    private async Task<(long Files, long Bytes)> CompleteBatchAsync(
        Tenant tenant, ExportJob job, int batch, SchemaNode? outputSchema, FinalizeInput input, long now, CancellationToken ct)
    {
        string datasetId = job.Destination.DatasetId!, batchId = job.OutputBatchIds()[batch];
        var parts = (await batchFiles.ListAsync(tenant, datasetId, batchId, ct)).Where(f => f.Name != DatasetBatchFiles.ManifestName).ToList();
        var rowsByPart = input.Shards.SelectMany(s => s.Parts).Where(p => p.Batch == batch).ToDictionary(p => p.Name, p => p.Rows);
        long rows = rowsByPart.Values.Sum();
        var segment = job.Destination.Batches?[batch];
        await batchFiles.WriteManifestAsync(tenant, datasetId, batchId, new JsonObject
        {
            ["jobId"] = job.Id,
            ["datasetId"] = datasetId,
            ["batchId"] = batchId,
            ["segment"] = segment is null ? null : new JsonObject { ["segmentId"] = segment.SegmentId, ["segmentNs"] = segment.SegmentNs },
            ["schema"] = job.Schema.Name,
            ["schemaDefinition"] = outputSchema?.ToJson(),
            ["fields"] = job.Fields,
            ["mergePolicy"] = JsonSerializer.SerializeToNode(job.MergePolicy, CoreJson.Wire.MergePolicyRef),
            ["incremental"] = job.Incremental is { } incremental ? new JsonObject { ["afterJobId"] = incremental.AfterJobId, ["changeColumn"] = IncrementalRequest.ChangeColumn } : null,
            ["format"] = "parquet",
            ["totalRows"] = rows,
            ["files"] = new JsonArray(parts.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p.Name,
                ["rows"] = rowsByPart.GetValueOrDefault(p.Name),
                ["bytes"] = p.Size,
                ["md5"] = p.Md5,
            }).ToArray()),
        }, ct);
        await datasets.SaveBatchAsync(tenant, new DatasetBatch
        {
            Id = batchId,
            DatasetId = datasetId,
            Status = BatchStatus.Success,
            RecordsAccepted = rows,
            RelatedJobId = job.Id,
            Location = $"{StorageNames.DatasetsContainer}/{DatasetBatchFiles.Folder(tenant, datasetId, batchId)}",
            Created = input.ExportStartMs,
            Completed = now,
        }, ct);
        return (parts.Count, parts.Sum(p => p.Size));
    }

    public async Task<string> FailAsync(FailInput input, CancellationToken ct)
    {
        using var span = ExportTelemetry.StartStep("fail", input.Job);
        using var scope = Scope(input.Job);
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Failed;
        await DeleteOutputAsync(tenant, job, ct);
        long now = Now;
        var error = JobError.Of(input.Code, input.Message, input.CallStack);
        var failed = await jobs.UpdateAsync(tenant, job.Id, j => j.Fail(now, error), ct);
        log.LogWarning("Export job {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", job.Id, input.Job.OrgId, input.Job.Sandbox, failed?.Status, input.Message);
        if (!JobStatus.IsTerminal(job.Status) && failed?.Status == JobStatus.Failed) telemetry.Failed(input.Job);
        else if (!JobStatus.IsTerminal(job.Status) && failed?.Status == JobStatus.Cancelled) telemetry.Cancelled(input.Job);
        return failed?.Status ?? JobStatus.Failed;
    }

    private async Task<string> CancelAsync(ExportJobInput input, ExportJob job, CancellationToken ct)
    {
        int removed = await DeleteOutputAsync(input.Tenant, job, ct);
        long now = Now;
        var cancelled = await jobs.UpdateAsync(input.Tenant, job.Id, j => j.Cancel(now), ct);
        log.LogInformation("Export job {JobId} cancelled; {Files} partial files removed", job.Id, removed);
        if (cancelled?.Status == JobStatus.Cancelled) telemetry.Cancelled(input);
        return cancelled?.Status ?? JobStatus.Cancelled;
    }

    /// <summary>Removes what a job that did not succeed wrote: its batches' files, the memberships it recorded, its change state.</summary>
    private async Task<int> DeleteOutputAsync(Tenant tenant, ExportJob job, CancellationToken ct)
    {
        int removed = 0;
        if (job.EvaluationInfo?.Segmentation == true)
            removed += await profiles.DeleteBatchAsync(FragmentKind.Profile, tenant, ShardExporter.MembershipBatchId(job.Id), ct);
        foreach (string batchId in job.OutputBatchIds()) removed += await batchFiles.DeleteAsync(tenant, job.Destination.DatasetId!, batchId, ct);
        if (job.Incremental is not null) await changeStates.DeleteAsync(tenant, job.Id, ct);
        return removed;
    }

    private IDisposable? Scope(ExportJobInput job) => ExportTelemetry.Scope(log, job.OrgId, job.Sandbox, job.JobId);
}
