using System.Security.Cryptography;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Idempotency;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Datasets;

/// <summary>
/// Ingests an NDJSON body into a dataset as it is read: each good line becomes a profile fragment (or an experience
/// event, for a dataset of schema <see cref="Dataset.EventSchema"/>), written in chunks (<see cref="ChunkedBatchWriter"/>);
/// each bad line — not UTF-8, not JSON, a duplicate member, a lone surrogate, too long, not fitting the schema — is
/// counted and listed with its number and reason, and the good lines are kept. A body over the size limit, or a gzip body
/// cut short, keeps nothing. The batch is recorded, then the tenant's background compaction asked for (the client starts it).
/// </summary>
public sealed class BatchIngestor(
    DatasetStore datasets,
    ProfileStore profiles,
    IdempotencyStore idempotency,
    BackgroundCompaction compaction,
    IOptions<ApiLimitsOptions> limits,
    TimeProvider time)
{
    /// <summary>How many rejected lines a batch lists (the counts are always complete).</summary>
    public const int MaxListedRejections = 100;

    /// <summary>
    /// A listed reason is cut to <see cref="MaxReasonChars"/>, and lines stop being listed once the reasons listed come
    /// to <see cref="MaxListedChars"/> as stored (JSON-escaped): a reason may quote the line's own names, of any length,
    /// and the batch's record, which holds them all, must fit its Table row whatever the lines.
    /// </summary>
    public const int MaxReasonChars = 256, MaxListedChars = 16_000;

    public async Task<IResult> IngestAsync(Tenant tenant, Dataset dataset, Stream body, string? key, DurableTaskClient client, CancellationToken ct)
    {
        string datasetId = dataset.Id;
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        string batchId = Ids.NewBatchId();
        var kind = dataset.HoldsEvents ? FragmentKind.Event : FragmentKind.Profile;
        var reader = new DatasetRecordReader(dataset);
        using var writer = new ChunkedBatchWriter(profiles, kind, tenant, datasetId, batchId, now, limits.Value.IngestChunkBytes, limits.Value.MaxRecordBytes, reader.Schema);
        using var payloadHash = key is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        bool kept = false;
        try
        {
            var (rejectedCount, rejected) = await ReadLinesAsync(body, reader, writer, payloadHash, ct);
            if (writer.Accepted == 0 && rejectedCount == 0) return Problems.Invalid("body", "The batch has no records: send one JSON object per line.");
            await writer.CompleteAsync(ct);

            string scope = $"batches|{datasetId}";
            if (key is not null && await idempotency.EarlierAnswerAsync(tenant, scope, key, Convert.ToHexString(payloadHash!.GetHashAndReset()),
                    async first => await datasets.GetBatchAsync(tenant, datasetId, first, ct) is { } earlier
                        ? Results.Json(earlier, CoreJson.Wire.DatasetBatch, statusCode: StatusCodes.Status201Created)
                        : null, ct) is { } answer)
                return answer;
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
        catch (BodyLimitStream.ExceededException)
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
        IncrementalHash? payloadHash, CancellationToken ct)
    {
        var rejected = new List<RejectedRecord>();
        long count = 0, listedChars = 0;
        using (body)
        using (var lines = new NdjsonLines(body, limits.Value.MaxRecordBytes, payloadHash))
        {
            while (await lines.ReadAsync(ct))
            {
                string? reason;
                if (lines.TooLong) reason = $"the line is longer than {limits.Value.MaxRecordBytes} bytes.";
                else if (IsBlank(lines.Line.Span)) continue;
                else if (reader.TryRead(lines.Line, out var identity, out reason))
                {
                    await writer.AddAsync(identity, lines.Line, ct);
                    continue;
                }
                count++;
                if (rejected.Count == MaxListedRejections || listedChars >= MaxListedChars) continue;
                string listed = ShownText.Cut(reason!, MaxReasonChars);
                rejected.Add(new RejectedRecord(lines.Number, listed));
                listedChars += JsonEncodedText.Encode(listed, CoreJson.Wire.Options.Encoder).Value.Length;
            }
        }
        return (count, rejected);
    }

    private static bool IsBlank(ReadOnlySpan<byte> line) => line.IndexOfAnyExcept(" \t\r"u8) < 0;
}
