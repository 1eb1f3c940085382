using System.Buffers;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The large buffers of ingestion (a line buffer, a chunk of accepted lines), pooled apart from the shared pool: that
/// one keeps arrays per processor, so after a burst of ingestions it would hold many megabytes the export that follows
/// cannot use. This pool keeps at most a few of each size.
/// </summary>
public static class IngestionBuffers
{
    public static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 4);
}
