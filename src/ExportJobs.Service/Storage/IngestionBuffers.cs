using System.Buffers;

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
}
