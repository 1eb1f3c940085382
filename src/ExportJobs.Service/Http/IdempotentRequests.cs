using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Idempotency;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>What an <c>Idempotency-Key</c> seen before answers, for every endpoint that takes one (job creation, ingestion).</summary>
public static class IdempotentRequests
{
    /// <summary>
    /// Claims <paramref name="key"/> for this request, or answers as the first request with it did: its result again
    /// (<paramref name="replay"/> of the first result's id), 422 for the same key with another body, 409 while the
    /// first is still in progress. Null when this request is the one to carry out (then complete or abandon the key).
    /// </summary>
    public static async Task<IResult?> EarlierAnswerAsync(this IdempotencyStore store, Tenant tenant, string scope, string key, string payloadHash,
        Func<string, Task<IResult?>> replay, CancellationToken ct)
    {
        const string Header = RequestReading.IdempotencyKeyHeader;
        var (verdict, first) = await store.BeginAsync(tenant, scope, key, payloadHash, ct);
        return verdict switch
        {
            IdempotencyVerdict.Mismatch => Problems.Unprocessable(Header, $"{Header} '{key}' was used with another body."),
            IdempotencyVerdict.InProgress => Problems.Conflict(Header, $"The request with {Header} '{key}' is still being carried out; retry shortly."),
            IdempotencyVerdict.Replay => await replay(first!),
            _ => null,
        };
    }
}
