using Microsoft.IO;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The memory streams files are written into before their upload (fragment files, export parts, a <c>pdg</c> export's
/// routed runs, a graph build's files), made of pooled 64 KB blocks: a <see cref="MemoryStream"/> per file, each a
/// large-object allocation of up to a few MB, made thousands of such allocations a <c>pdg</c> export (a routed run per
/// partition, 16 at a time, every 8 MB of records a shard's route holds), and the large object heap is collected only
/// with generation 2. Blocks are under the large-object threshold; at most <see cref="FreeBytesKept"/> of them are kept
/// when no file holds them.
/// </summary>
internal static class PooledStreams
{
    private const int BlockBytes = 64 * 1024;
    private const long FreeBytesKept = 16 * 1024 * 1024;

    private static readonly RecyclableMemoryStreamManager Manager = new(new RecyclableMemoryStreamManager.Options
    {
        BlockSize = BlockBytes,
        MaximumSmallPoolFreeBytes = FreeBytesKept,
        // A file is read back through its blocks, never as one buffer, so no large buffer is ever pooled.
        MaximumLargePoolFreeBytes = 0,
    });

    /// <summary>An empty stream whose blocks go back to the pool when it is disposed.</summary>
    public static MemoryStream Get() => Manager.GetStream();
}

/// <summary>
/// Rows put in a binary form as they come, in a pooled stream (<see cref="PooledStreams"/>), with their count: what a
/// writer holds for one partition until it writes them out (a graph build's stage, a <c>pdg</c> export's route).
/// </summary>
internal sealed class PooledRows : IDisposable
{
    public PooledRows() => Writer = new BinaryWriter(Bytes, System.Text.Encoding.UTF8, leaveOpen: true);

    public MemoryStream Bytes { get; } = PooledStreams.Get();

    public BinaryWriter Writer { get; }

    public int Count { get; set; }

    public void Dispose()
    {
        Writer.Dispose();
        Bytes.Dispose();
    }
}

/// <summary>
/// Local files a process writes what outgrows its memory to (a <c>pdg</c> route's spilled rows, and its blob before
/// its upload), in the temporary folder: each is deleted when closed (a process that crashes leaves its own there).
/// </summary>
internal static class ScratchFiles
{
    public static FileStream Create() =>
        new(Path.Combine(Path.GetTempPath(), $"exportjobs-scratch-{Guid.NewGuid():N}"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024,
            FileOptions.DeleteOnClose);
}
