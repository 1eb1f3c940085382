using System.Security.Cryptography;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Core;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Idempotency;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Datasets;

/// <summary>Datasets and their batches: create a dataset, ingest NDJSON profile records into it, read both back.</summary>
public sealed class DatasetsHandler(
    ApiAccess access,
    DatasetStore datasets,
    ProfileStore profiles,
    DatasetBatchFiles batchFiles,
    IdempotencyStore idempotency,
    BackgroundCompaction compaction,
    IOptions<ApiLimitsOptions> limits,
    TimeProvider time)
{
    /// <summary>How many rejected lines a batch lists (the counts are always complete).</summary>
    public const int MaxListedRejections = 100;

    public async Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.DatasetRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        var problems = DatasetRequestValidator.Validate(body);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var dataset = new Dataset
        {
            Id = Ids.NewDatasetId(),
            Name = body.Name!,
            Schema = body.Schema!,
            ProfileEnabled = body.ProfileEnabled ?? false,
            ImsOrgId = tenant.OrgId,
            SandboxName = tenant.Sandbox,
            Created = now,
            Updated = now,
        };
        await datasets.SaveAsync(tenant, dataset, ct);
        return Results.Json(dataset, CoreJson.Wire.Dataset, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> GetAsync(HttpRequest request, string datasetId, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.IsDatasetId(datasetId)) return InvalidDatasetId();
        var dataset = await datasets.GetAsync(tenant, datasetId, ct);
        return dataset is null ? DatasetNotFound(datasetId) : Results.Json(dataset, CoreJson.Wire.Dataset);
    }

    /// <summary>
    /// Ingests an NDJSON body (gzip accepted) into a profile-enabled dataset as it is read: each good line becomes a profile
    /// fragment (or an experience event, for a dataset of schema <see cref="Dataset.EventSchema"/>), written in chunks
    /// (<see cref="ChunkedBatchWriter"/>); each bad line — not UTF-8, not JSON, a duplicate member, a lone surrogate,
    /// too long, not fitting the schema — is counted and listed with its number and reason, and the good lines are kept.
    /// A body over the size limit or a gzip body cut short keeps nothing. Then the tenant's background compaction is
    /// asked for (<paramref name="client"/> starts it).
    /// </summary>
    public async Task<IResult> IngestAsync(HttpRequest request, string datasetId, DurableTaskClient client, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.IsDatasetId(datasetId)) return InvalidDatasetId();
        var dataset = await datasets.GetAsync(tenant, datasetId, ct);
        if (dataset is null) return DatasetNotFound(datasetId);
        if (!dataset.ProfileEnabled)
            return Problems.Invalid("datasetId", $"Dataset '{datasetId}' does not feed the profile store (profileEnabled: false); only profile datasets take ingestion.");
        if (!RequestReading.TryGetIdempotencyKey(request, out string? key, out var keyProblem)) return keyProblem!;
        var (body, bodyProblem) = RequestReading.OpenNdjson(request, limits.Value.MaxIngestBodyBytes);
        if (body is null) return bodyProblem!;

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string batchId = Ids.NewBatchId();
        var kind = dataset.HoldsEvents ? FragmentKind.Event : FragmentKind.Profile;
        using var writer = new ChunkedBatchWriter(profiles, kind, tenant, datasetId, batchId, now, limits.Value.IngestChunkBytes, limits.Value.MaxRecordBytes);
        using var payloadHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        bool kept = false;
        try
        {
            var (rejectedCount, rejected) = await ReadLinesAsync(body, new DatasetRecordReader(dataset), writer, payloadHash, ct);
            if (writer.Accepted == 0 && rejectedCount == 0) return Problems.Invalid("body", "The batch has no records: send one JSON object per line.");
            await writer.CompleteAsync(ct);

            string scope = $"batches|{datasetId}";
            if (key is not null && await EarlierAnswerAsync(tenant, datasetId, scope, key, payloadHash, ct) is { } earlier) return earlier;
            var batch = new DatasetBatch
            {
                Id = batchId,
                DatasetId = datasetId,
                Status = writer.Accepted > 0 ? BatchStatus.Success : BatchStatus.Failed,
                RecordsAccepted = writer.Accepted,
                RecordsRejected = rejectedCount,
                Errors = rejected,
                Created = now,
                Completed = time.GetUtcNow().ToUnixTimeMilliseconds(),
            };
            try
            {
                await datasets.SaveBatchAsync(tenant, batch, ct);
                kept = true;
                if (key is not null) await idempotency.CompleteAsync(tenant, scope, key, batchId, ct);
            }
            catch when (key is not null && !kept)
            {
                await idempotency.AbandonAsync(tenant, scope, key);
                throw;
            }
            if (writer.Accepted > 0) await compaction.RequestAsync(client, tenant, ct);
            return Results.Json(batch, CoreJson.Wire.DatasetBatch, statusCode: StatusCodes.Status201Created);
        }
        catch (BodyLimit.ExceededException)
        {
            return Problems.TooLarge(limits.Value.MaxIngestBodyBytes);
        }
        catch (InvalidDataException e)
        {
            return Problems.Invalid("body", $"The body is declared gzip but is not whole, valid gzip data: {e.Message}");
        }
        finally
        {
            if (!kept) await writer.DiscardAsync();
        }
    }

    /// <summary>Reads the body's lines: each good one goes to <paramref name="writer"/>, each bad one is counted (and listed, up to <see cref="MaxListedRejections"/>).</summary>
    private async Task<(long Count, List<RejectedRecord> Listed)> ReadLinesAsync(Stream body, DatasetRecordReader reader, ChunkedBatchWriter writer,
        IncrementalHash payloadHash, CancellationToken ct)
    {
        var rejected = new List<RejectedRecord>();
        long count = 0;
        using (body)
        using (var lines = new NdjsonLines(body, limits.Value.MaxRecordBytes, payloadHash))
        {
            while (await lines.ReadAsync(ct))
            {
                string? reason;
                if (lines.TooLong) reason = $"the line is longer than {limits.Value.MaxRecordBytes} bytes.";
                else if (IsBlank(lines.Line.Span)) continue;
                else if (reader.TryRead(lines.Line.Span, out _, out var identity, out reason))
                {
                    await writer.AddAsync(identity, lines.Line, ct);
                    continue;
                }
                count++;
                if (rejected.Count < MaxListedRejections) rejected.Add(new RejectedRecord(lines.Number, reason!));
            }
        }
        return (count, rejected);
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;

    /// <summary>
    /// What an <c>Idempotency-Key</c> seen before answers (the first batch, 422 for another body, 409 while the first is
    /// still being ingested); null when this request is the one to keep.
    /// </summary>
    private async Task<IResult?> EarlierAnswerAsync(Tenant tenant, string datasetId, string scope, string key, IncrementalHash payloadHash, CancellationToken ct)
    {
        var (verdict, first) = await idempotency.BeginAsync(tenant, scope, key, Convert.ToHexString(payloadHash.GetHashAndReset()), ct);
        switch (verdict)
        {
            case IdempotencyVerdict.Mismatch:
                return Problems.Unprocessable(RequestReading.IdempotencyKeyHeader, $"{RequestReading.IdempotencyKeyHeader} '{key}' was used with another body.");
            case IdempotencyVerdict.InProgress:
                return Problems.Conflict(RequestReading.IdempotencyKeyHeader, $"The batch with {RequestReading.IdempotencyKeyHeader} '{key}' is still being ingested; retry shortly.");
            case IdempotencyVerdict.Replay:
                var earlier = await datasets.GetBatchAsync(tenant, datasetId, first!, ct);
                return earlier is null ? null : Results.Json(earlier, CoreJson.Wire.DatasetBatch, statusCode: StatusCodes.Status201Created);
            default:
                return null;
        }
    }

    public async Task<IResult> GetBatchAsync(HttpRequest request, string datasetId, string batchId, CancellationToken ct)
    {
        var (_, batch, problem) = await FindBatchAsync(request, datasetId, batchId, ct);
        return problem ?? Results.Json(batch!, CoreJson.Wire.DatasetBatch);
    }

    /// <summary>The files of an export batch: <c>{files: [{name, bytes, md5, href}]}</c>, each downloadable at its <c>href</c>.</summary>
    public async Task<IResult> ListFilesAsync(HttpRequest request, string datasetId, string batchId, CancellationToken ct)
    {
        var (tenant, _, problem) = await FindBatchAsync(request, datasetId, batchId, ct);
        if (tenant is null || problem is not null) return problem!;
        var files = await batchFiles.ListAsync(tenant, datasetId, batchId, ct);
        return Results.Json(new BatchFileList(files.Select(f => new BatchFile(f.Name, f.Size, f.Md5, $"/datasets/{datasetId}/batches/{batchId}/files/{f.Name}")).ToList()),
            CoreJson.Wire.BatchFileList);
    }

    public async Task<IResult> GetFileAsync(HttpRequest request, string datasetId, string batchId, string name, CancellationToken ct)
    {
        if (!DatasetBatchFiles.IsFileName(name)) return Problems.Invalid("name", "A batch file is manifest.json or part-NNNNN-NNNNN.parquet.");
        var (tenant, _, problem) = await FindBatchAsync(request, datasetId, batchId, ct);
        if (tenant is null || problem is not null) return problem!;
        var stream = await batchFiles.OpenReadAsync(tenant, datasetId, batchId, name, ct);
        if (stream is null) return Problems.NotFound("name", $"Batch '{batchId}' has no file '{name}'.");
        return Results.Stream(stream, name.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "application/vnd.apache.parquet", name);
    }

    private async Task<(Tenant? Tenant, DatasetBatch? Batch, IResult? Problem)> FindBatchAsync(HttpRequest request, string datasetId, string batchId, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return (null, null, denied);
        if (!Ids.IsDatasetId(datasetId)) return (tenant, null, InvalidDatasetId());
        if (!Ids.IsBatchId(batchId)) return (tenant, null, Problems.Invalid("batchId", "A batch id is 1 to 64 letters or digits."));
        var batch = await datasets.GetBatchAsync(tenant, datasetId, batchId, ct);
        return batch is null
            ? (tenant, null, Problems.NotFound("batchId", $"Dataset '{datasetId}' has no batch '{batchId}' in this sandbox."))
            : (tenant, batch, null);
    }

    private static IResult InvalidDatasetId() =>
        Problems.Invalid("datasetId", "A dataset id is 1 to 64 letters or digits.");

    private static IResult DatasetNotFound(string datasetId) => Problems.NotFound("datasetId", $"There is no dataset '{datasetId}' in this sandbox.");
}
