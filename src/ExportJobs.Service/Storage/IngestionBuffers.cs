using System.Buffers;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The large buffers of ingestion (a line buffer, a chunk of accepted lines), pooled apart from the shared pool: that
/// one keeps arrays per processor, so after a burst of ingestions it would hold many megabytes the export that follows
/// cannot use. This pool keeps at most a few of each size, and lets go of them once ingestion has been quiet for
/// <see cref="IdleTrimmedArrayPool{T}.QuietPeriod"/>.
/// </summary>
public static class IngestionBuffers
{
    public static readonly ArrayPool<byte> Pool = new IdleTrimmedArrayPool<byte>(maxArrayLength: 64 * 1024 * 1024, maxArraysPerSize: 4);

    /// <summary>
    /// Where a chunk's records are in its buffer (<see cref="Profiles.ChunkedBatchWriter"/>): a list of them grew through
    /// arrays of the large object heap at every batch, about 1.5 MB of them per batch of 25,000 records.
    /// </summary>
    public static readonly ArrayPool<HeldRecord> Held = new IdleTrimmedArrayPool<HeldRecord>(maxArrayLength: 1024 * 1024, maxArraysPerSize: 4);

    /// <summary>A record of a chunk: its identity, and its bytes in the chunk's buffer.</summary>
    public readonly record struct HeldRecord(Identity Identity, int Offset, int Length);
}
