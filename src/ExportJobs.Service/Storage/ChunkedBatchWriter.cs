using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage;

/// <summary>
/// Writes the accepted records of one ingested batch as they are read: once the records held reach
/// <paramref name="chunkBytes"/> they are written as one chunk (a file per shard), so an ingestion holds at most a
/// chunk whatever its body. A batch that is not kept (a body cut short, a replayed idempotency key) is discarded:
/// the chunks written so far are deleted.
/// </summary>
public sealed class ChunkedBatchWriter(ProfileStore profiles, FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs, long chunkBytes)
{
    private readonly List<(Identity, byte[])> _held = [];
    private long _heldBytes;
    private int _chunks;

    public long Accepted { get; private set; }

    public async Task AddAsync(Identity identity, byte[] json, CancellationToken ct)
    {
        _held.Add((identity, json));
        _heldBytes += json.Length;
        Accepted++;
        if (_heldBytes >= chunkBytes) await FlushAsync(ct);
    }

    /// <summary>Writes what is still held.</summary>
    public Task CompleteAsync(CancellationToken ct) => FlushAsync(ct);

    /// <summary>Deletes every chunk written (whatever the request's cancellation: a half-written batch is never left).</summary>
    public Task DiscardAsync() => profiles.DeleteChunksAsync(kind, tenant, batchId, ingestTimeMs, _chunks, CancellationToken.None);

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_held.Count == 0) return;
        // Counted before writing, so that a chunk that fails half way is discarded too.
        await profiles.WriteBatchAsync(kind, tenant, datasetId, batchId, ingestTimeMs, _held, ct, _chunks++);
        _held.Clear();
        _heldBytes = 0;
    }
}
