using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Writes the accepted records of one ingested batch as they are read. Records are copied into one buffer of
/// <paramref name="chunkBytes"/> (at least <paramref name="maxRecordBytes"/>); when the next one would not fit, the
/// buffer is written as one chunk (a file per shard) and reused. So an ingestion holds one buffer whatever its body, and
/// its records do not live on as small objects until a full collection. A batch that is not kept (a body cut short, a
/// replayed idempotency key) is discarded: the chunks written so far are deleted. Where each record's members are, as
/// its parse found them, is held beside it (in an array of its own, up to a member for every 64 bytes of the chunk:
/// records past that are split from their text when written).
/// </summary>
public sealed class ChunkedBatchWriter(ProfileStore profiles, FragmentKind kind, Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
    int chunkBytes, int maxRecordBytes) : IDisposable
{
    /// <summary>Each held record: its identity, its text in <see cref="_buffer"/>, its members in <see cref="_members"/> (a count of -1: not held).</summary>
    private readonly List<(Identity Identity, int Offset, int Length, int FirstMember, int MemberCount)> _held = [];
    private readonly int _capacity = Math.Max(chunkBytes, maxRecordBytes);
    private byte[]? _buffer;
    private int _used;
    private RecordMember[]? _members;
    private int _membersUsed;
    private int _chunks;

    private int MemberCapacity => _capacity / 64;

    public long Accepted { get; private set; }

    /// <param name="members">Where the record's top-level members are in <paramref name="json"/> (<see cref="ProfileRecordParser.TryRead"/>), or null.</param>
    public async Task AddAsync(Identity identity, ReadOnlyMemory<byte> json, IReadOnlyList<RecordMember>? members, CancellationToken ct)
    {
        _buffer ??= IngestionBuffers.Pool.Rent(_capacity);
        if (_used + json.Length > _capacity) await FlushAsync(ct);
        json.Span.CopyTo(_buffer.AsSpan(_used));
        int first = _membersUsed, count = -1;
        if (members is not null && _membersUsed + members.Count <= MemberCapacity)
        {
            _members ??= IngestionBuffers.Members.Rent(MemberCapacity);
            for (int i = 0; i < members.Count; i++) _members[_membersUsed++] = members[i];
            count = members.Count;
        }
        _held.Add((identity, _used, json.Length, first, count));
        _used += json.Length;
        Accepted++;
    }

    /// <summary>Writes what is still held.</summary>
    public Task CompleteAsync(CancellationToken ct) => FlushAsync(ct);

    /// <summary>Deletes every chunk written (whatever the request's cancellation: a half-written batch is never left).</summary>
    public Task DiscardAsync() => profiles.DeleteChunksAsync(kind, tenant, batchId, ingestTimeMs, _chunks, CancellationToken.None);

    private async Task FlushAsync(CancellationToken ct)
    {
        if (_held.Count == 0) return;
        var (buffer, members) = (_buffer!, _members);
        // Counted before writing, so that a chunk that fails half way is discarded too.
        await profiles.WriteBatchAsync(kind, tenant, datasetId, batchId, ingestTimeMs,
            _held.Select(h => new IngestedRecord(h.Identity, buffer.AsMemory(h.Offset, h.Length), h.MemberCount < 0 ? (ReadOnlyMemory<RecordMember>?)null : members.AsMemory(h.FirstMember, h.MemberCount))), ct,
            _chunks++, firstSequence: Accepted - _held.Count);
        _held.Clear();
        (_used, _membersUsed) = (0, 0);
    }

    public void Dispose()
    {
        if (_members is not null) IngestionBuffers.Members.Return(_members);
        _members = null;
        if (_buffer is null) return;
        IngestionBuffers.Pool.Return(_buffer);
        _buffer = null;
    }
}
