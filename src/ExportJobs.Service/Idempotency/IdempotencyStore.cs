using System.ComponentModel.DataAnnotations;
using Azure;
using Azure.Data.Tables;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Idempotency;

/// <summary>Section <c>ExportJobs:Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    public const string Section = "ExportJobs:Idempotency";

    /// <summary>How long a key keeps answering with its first result.</summary>
    [Range(60, 30 * 24 * 3600)] public int WindowSeconds { get; set; } = 24 * 3600;

    /// <summary>How long a repeat waits for the first request with its key to finish.</summary>
    [Range(1, 300)] public int WaitSeconds { get; set; } = 20;
}

/// <summary>What an <c>Idempotency-Key</c> says about a request.</summary>
public enum IdempotencyVerdict
{
    /// <summary>The key is new (or its window passed): do the work, then <see cref="IdempotencyStore.CompleteAsync"/>.</summary>
    Proceed,
    /// <summary>The same key and payload were seen: answer with the first result.</summary>
    Replay,
    /// <summary>The same key came with another payload.</summary>
    Mismatch,
    /// <summary>The first request with this key has not finished within the wait.</summary>
    InProgress,
}

/// <summary>
/// Idempotency keys in Table Storage (PartitionKey the tenant, RowKey the scope and key): the first request inserts
/// the key with a hash of its payload, so that of concurrent duplicates exactly one proceeds; the others wait for its
/// result and answer with it.
/// </summary>
public sealed class IdempotencyStore(StorageClients clients, IOptions<IdempotencyOptions> options, TimeProvider time)
{
    private const string HashProperty = "PayloadHash", ResultProperty = "Result", CreatedProperty = "CreatedMs";

    public async Task<(IdempotencyVerdict Verdict, string? Result)> BeginAsync(Tenant tenant, string scope, string key, string payloadHash, CancellationToken ct)
    {
        string row = $"{scope}|{key}";
        var deadline = time.GetUtcNow().AddSeconds(options.Value.WaitSeconds);
        while (true)
        {
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var entity = new TableEntity(tenant.Key, row) { [HashProperty] = payloadHash, [CreatedProperty] = now };
            try
            {
                await clients.Idempotency.AddEntityAsync(entity, ct);
                return (IdempotencyVerdict.Proceed, null);
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                // Someone used the key before: look at what they left.
            }
            var found = await clients.Idempotency.GetEntityIfExistsAsync<TableEntity>(tenant.Key, row, cancellationToken: ct);
            if (!found.HasValue) continue;
            var first = found.Value!;
            long created = first.GetInt64(CreatedProperty) ?? 0;
            bool expired = created < now - options.Value.WindowSeconds * 1000L;
            // A key left without a result long after the wait is from a request that died: the next one may take it over.
            bool abandoned = first.GetString(ResultProperty) is null && created < now - 3 * options.Value.WaitSeconds * 1000L;
            if (expired || abandoned)
            {
                try
                {
                    await clients.Idempotency.UpdateEntityAsync(entity, first.ETag, TableUpdateMode.Replace, ct);
                    return (IdempotencyVerdict.Proceed, null);
                }
                catch (RequestFailedException e) when (e.Status is 404 or 412)
                {
                    continue;
                }
            }
            if (first.GetString(HashProperty) != payloadHash) return (IdempotencyVerdict.Mismatch, null);
            if (first.GetString(ResultProperty) is { } result) return (IdempotencyVerdict.Replay, result);
            if (time.GetUtcNow() > deadline) return (IdempotencyVerdict.InProgress, null);
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, ct);
        }
    }

    public Task CompleteAsync(Tenant tenant, string scope, string key, string result, CancellationToken ct) =>
        clients.Idempotency.UpdateEntityAsync(new TableEntity(tenant.Key, $"{scope}|{key}") { [ResultProperty] = result }, ETag.All, TableUpdateMode.Merge, ct);

    /// <summary>Frees a key whose request failed, so that a retry with it can proceed.</summary>
    public Task AbandonAsync(Tenant tenant, string scope, string key) =>
        RecordJson.DeleteAsync(clients.Idempotency, tenant.Key, $"{scope}|{key}", CancellationToken.None);
}
