using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Writes the accepted records of one ingested batch as they are read. Records are copied into one buffer of
/// <paramref name="chunkBytes"/> (at least <paramref name="maxRecordBytes"/>); when the next one would not fit, the
/// buffer is written as one chunk (a file per shard) and reused. So an ingestion holds one buffer whatever its body, and
/// its records do not live on as small objects until a full collection. A batch that is not kept (a body cut short, a
/// replayed idempotency key) is discarded: the chunks written so far are deleted. The dataset's record <c>schema</c>
/// (null: none) declares its files' typed leaves (<see cref="ProfileStore.WriteBatchAsync"/>).
/// </summary>
public sealed class ChunkedBatchWriter(ProfileStore profiles, FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
    int chunkBytes, int maxRecordBytes, SchemaNode? schema = null) : IDisposable
{
    /// <summary>Where each record held in the buffer is: the first <see cref="_count"/> of an array from <see cref="IngestionBuffers.Held"/>.</summary>
    private IngestionBuffers.HeldRecord[] _held = [];
    private int _count;
    private readonly int _capacity = Math.Max(chunkBytes, maxRecordBytes);
    private byte[]? _buffer;
    private int _used;
    private int _chunks;

    public long Accepted { get; private set; }

    public async Task AddAsync(Identity identity, ReadOnlyMemory<byte> json, CancellationToken ct)
    {
        _buffer ??= IngestionBuffers.Pool.Rent(_capacity);
        if (_used + json.Length > _capacity) await FlushAsync(ct);
        json.Span.CopyTo(_buffer.AsSpan(_used));
        if (_count == _held.Length) _held = PooledArrays.Grown(IngestionBuffers.Held, _held, _count, Math.Max(1024, _held.Length * 2));
        _held[_count++] = new(identity, _used, json.Length);
        _used += json.Length;
        Accepted++;
    }

    /// <summary>Writes what is still held.</summary>
    public Task CompleteAsync(CancellationToken ct) => FlushAsync(ct);

    /// <summary>Deletes every chunk written (whatever the request's cancellation: a half-written batch is never left).</summary>
    public Task DiscardAsync() => profiles.DeleteChunksAsync(kind, tenant, batchId, ingestTimeMs, _chunks, CancellationToken.None);

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_count == 0) return;
        var buffer = _buffer!;
        // Counted before writing, so that a chunk that fails half way is discarded too.
        await profiles.WriteBatchAsync(kind, tenant, datasetId, batchId, ingestTimeMs,
            new ArraySegment<IngestionBuffers.HeldRecord>(_held, 0, _count).Select(h => (h.Identity, (ReadOnlyMemory<byte>)buffer.AsMemory(h.Offset, h.Length))), ct,
            _chunks++, firstSequence: Accepted - _count, schema);
        Array.Clear(_held, 0, _count);
        _count = 0;
        _used = 0;
    }

    public void Dispose()
    {
        PooledArrays.Return(IngestionBuffers.Held, _held, _count);
        _held = [];
        _count = 0;
        if (_buffer is null) return;
        IngestionBuffers.Pool.Return(_buffer);
        _buffer = null;
    }
}
