using System.Text.Json.Nodes;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
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
    DatasetBatchFiles batchFiles,
    IOptions<ExportStorageOptions> options,
    TimeProvider time,
    ILogger<ExportJobSteps> log)
{
    private const int MaxCallStackLength = 4_000;

    private long Now => time.GetUtcNow().ToUnixTimeMilliseconds();

    public async Task<ExportPlan> PrepareAsync(ExportJobInput input, CancellationToken ct)
    {
        long now = Now;
        var job = await jobs.UpdateAsync(input.Tenant, input.JobId,
            j => j.Status == JobStatus.New ? j with { Status = JobStatus.Processing, UpdateTime = now } : null, ct);
        var o = options.Value;
        if (job is null || job.Status != JobStatus.Processing) return new ExportPlan(false, [], o.MaxParallelShards, o.ShardAttempts);

        var shards = await profiles.ListShardsAsync(input.Tenant, ct);
        log.LogInformation("Export job {JobId} of {Org}/{Sandbox}: {Shards} shards to export", input.JobId, input.OrgId, input.Sandbox, shards.Count);
        return new ExportPlan(true, shards, o.MaxParallelShards, o.ShardAttempts);
    }

    public async Task<ShardResult> ExportShardAsync(ShardTask task, CancellationToken ct)
    {
        var tenant = task.Job.Tenant;
        var job = await jobs.GetAsync(tenant, task.Job.JobId, ct)
                  ?? throw new InvalidOperationException($"Export job {task.Job.JobId} has no record.");
        var projection = FieldProjection.Parse(job.Fields);
        var selection = new ExportSelection(job.Filter);

        var merged = new Dictionary<Identity, MergedProfile>();
        await foreach (var fragment in profiles.ReadShardAsync(tenant, task.Shard, ct))
        {
            if (!merged.TryGetValue(fragment.Identity, out var profile)) merged[fragment.Identity] = profile = new MergedProfile(fragment.Identity);
            profile.MergeNewer(fragment);
        }

        var rows = new List<JsonObject>();
        var byNamespace = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var profile in merged.Values)
        {
            if (!selection.Includes(profile)) continue;
            rows.Add(projection.Apply(profile.Attributes));
            byNamespace[profile.Identity.Namespace] = byNamespace.GetValueOrDefault(profile.Identity.Namespace) + 1;
        }

        long bytes = rows.Count == 0 ? 0 : await batchFiles.WritePartAsync(tenant, job.Destination.DatasetId!, job.Destination.BatchId!, task.Shard, rows, ct);
        log.LogInformation("Export job {JobId}: shard {Shard} merged {Profiles} profiles, exported {Rows}", task.Job.JobId, task.Shard, merged.Count, rows.Count);
        return new ShardResult(task.Shard, rows.Count, byNamespace, bytes);
    }

    public async Task<string> FinalizeAsync(FinalizeInput input, CancellationToken ct)
    {
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Cancelled;
        if (JobStatus.IsTerminal(job.Status)) return job.Status;
        if (input.Cancelled || job.Status == JobStatus.Cancelling) return await CancelAsync(input.Job, job, ct);

        string datasetId = job.Destination.DatasetId!, batchId = job.Destination.BatchId!;
        long total = input.Shards.Sum(s => s.Rows);
        var byNamespace = input.Shards.SelectMany(s => s.RowsByNamespace)
            .GroupBy(kv => kv.Key, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value), StringComparer.Ordinal);

        var parts = (await batchFiles.ListAsync(tenant, datasetId, batchId, ct)).Where(f => f.Name != DatasetBatchFiles.ManifestName);
        var rowsByPart = input.Shards.Where(s => s.Rows > 0).ToDictionary(s => DatasetBatchFiles.PartName(s.Shard), s => s.Rows);
        await batchFiles.WriteManifestAsync(tenant, datasetId, batchId, new JsonObject
        {
            ["jobId"] = job.Id,
            ["datasetId"] = datasetId,
            ["batchId"] = batchId,
            ["schema"] = job.Schema.Name,
            ["fields"] = job.Fields,
            ["format"] = "parquet",
            ["totalRows"] = total,
            ["files"] = new JsonArray(parts.Select(p => (JsonNode)new JsonObject
            {
                ["name"] = p.Name,
                ["rows"] = rowsByPart.GetValueOrDefault(p.Name),
                ["bytes"] = p.Size,
            }).ToArray()),
        }, ct);

        long now = Now;
        await datasets.SaveBatchAsync(tenant, new DatasetBatch
        {
            Id = batchId,
            DatasetId = datasetId,
            Status = BatchStatus.Success,
            RecordsAccepted = total,
            RelatedJobId = job.Id,
            Location = $"{StorageNames.DatasetsContainer}/{DatasetBatchFiles.Folder(tenant, datasetId, batchId)}",
            Created = input.ExportStartMs,
            Completed = now,
        }, ct);

        var done = await jobs.UpdateAsync(tenant, job.Id, j => JobStatus.CanMove(j.Status, JobStatus.Succeeded) ? j with
        {
            Status = JobStatus.Succeeded,
            UpdateTime = now,
            Metrics = new JobMetrics
            {
                TotalTime = Timing.Started(j.CreationTime).EndedAt(now),
                ProfileExportTime = Timing.Started(input.ExportStartMs).EndedAt(input.ExportEndMs),
                TotalExportedProfileCounter = total,
                ExportedProfileByNamespaceCounter = byNamespace,
            },
        } : null, ct);
        if (done is { Status: JobStatus.Succeeded }) return JobStatus.Succeeded;
        return done is null ? JobStatus.Cancelled : await CancelAsync(input.Job, done, ct);
    }

    public async Task<string> FailAsync(FailInput input, CancellationToken ct)
    {
        var tenant = input.Job.Tenant;
        var job = await jobs.GetAsync(tenant, input.Job.JobId, ct);
        if (job is null) return JobStatus.Failed;
        await batchFiles.DeleteAsync(tenant, job.Destination.DatasetId!, job.Destination.BatchId!, ct);
        long now = Now;
        var error = new JobError(input.Code, input.Message, Truncate(input.CallStack));
        var failed = await jobs.UpdateAsync(tenant, job.Id, j =>
        {
            if (j.Status == JobStatus.Cancelling) return Ended(j, JobStatus.Cancelled, now);
            return JobStatus.CanMove(j.Status, JobStatus.Failed) ? Ended(j, JobStatus.Failed, now) with { Errors = [.. j.Errors ?? [], error] } : null;
        }, ct);
        log.LogWarning("Export job {JobId} of {Org}/{Sandbox} ended {Status}: {Message}", job.Id, input.Job.OrgId, input.Job.Sandbox, failed?.Status, input.Message);
        return failed?.Status ?? JobStatus.Failed;
    }

    private async Task<string> CancelAsync(ExportJobInput input, ExportJob job, CancellationToken ct)
    {
        int removed = await batchFiles.DeleteAsync(input.Tenant, job.Destination.DatasetId!, job.Destination.BatchId!, ct);
        long now = Now;
        var cancelled = await jobs.UpdateAsync(input.Tenant, job.Id,
            j => JobStatus.CanMove(j.Status, JobStatus.Cancelled) ? Ended(j, JobStatus.Cancelled, now) : null, ct);
        log.LogInformation("Export job {JobId} cancelled; {Files} partial files removed", job.Id, removed);
        return cancelled?.Status ?? JobStatus.Cancelled;
    }

    private static ExportJob Ended(ExportJob job, string status, long now) => job with
    {
        Status = status,
        UpdateTime = now,
        Metrics = (job.Metrics ?? new JobMetrics()) with { TotalTime = Timing.Started(job.CreationTime).EndedAt(now) },
    };

    private static string? Truncate(string? text) => text is { Length: > MaxCallStackLength } ? text[..MaxCallStackLength] : text;
}
