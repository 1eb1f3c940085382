using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Identities;

/// <summary>
/// Where graph builds keep their files: each build in a container of its own (<see cref="Build"/>), named by a hash of
/// its tenant and its <c>key</c> (what the build saw, see <see cref="IdentityGraphBuilder"/>), so it is deleted in one
/// request once superseded (<see cref="SupersededBuilds"/>). What exports read stays there: <c>map/p{k}/</c> (each
/// identity of shard k that is not its own graph's primary, with its primary), <c>graph/p{k}/</c> (each graph whose
/// primary is of shard k: its primary and its identities), <c>complete</c> once both are whole, and the routes exports
/// keep (<see cref="GraphShuffle"/>). Each build run works in a container of its own (<see cref="Work"/>), deleted at its end in one
/// request whatever the thousands of files it holds, so that two runs of one key (two exports at once) never read each
/// other's half-written files. Rows go in files of their own binary form (<see cref="IGraphRow{TSelf}"/>), named by
/// partition and writer and numbered, so a retried activity replaces its own.
/// </summary>
public sealed class GraphFiles
{
    private readonly BlobContainerClient _container;
    private readonly string _namePrefix;

    public GraphFiles(StorageClients clients, IOptions<ExportStorageOptions> options) : this(clients.Profiles, options.Value.NamePrefix) { }

    private GraphFiles(BlobContainerClient container, string namePrefix) => (_container, _namePrefix) = (container, namePrefix);

    /// <summary>
    /// The files of one run of a build (one seed of it), in a container of its own named by a hash of the tenant, the
    /// build, the run and the seed; paths in it start at its root.
    /// </summary>
    public GraphFiles Work(Tenant tenant, string key, string runId, long seed) =>
        new(_container.GetParentBlobServiceClient().GetBlobContainerClient(
            StorageNames.WorkContainer(_namePrefix, "graphwork-", $"{tenant.BlobPrefix}/{key}/{runId}/{seed}")), _namePrefix);

    /// <summary>The files of a build, and what exports keep with it, in its container; paths in it start at its root.</summary>
    public GraphFiles Build(Tenant tenant, string key) =>
        new(_container.GetParentBlobServiceClient().GetBlobContainerClient(StorageNames.BuildContainer(_namePrefix, tenant.BlobPrefix, key)), _namePrefix);

    /// <summary>The container these files are in.</summary>
    internal BlobContainerClient Container => _container;

    public Task CreateAsync(CancellationToken ct) => _container.CreateIfNotExistsAsync(cancellationToken: ct);

    /// <summary>Deletes this container and every file in it.</summary>
    public Task DeleteAsync(CancellationToken ct) => _container.DeleteIfExistsAsync(cancellationToken: ct);

    public static string Folder(string root, string set, int partition) => $"{root}{set}/p{partition.ToString("D4", CultureInfo.InvariantCulture)}/";

    /// <summary>A writer's file of a partition of a set; a writer that sends a partition many rows writes them to several, numbered.</summary>
    public static string Name(string root, string set, int partition, int writer, int file = 0) =>
        $"{Folder(root, set, partition)}w{writer.ToString("D4", CultureInfo.InvariantCulture)}-{file.ToString("D4", CultureInfo.InvariantCulture)}.rows";

    /// <summary>The rows of every file in a folder (a partition's share of one set), file after file (<see cref="ReadAsync{T}(IReadOnlyList{string}, CancellationToken)"/>).</summary>
    public async IAsyncEnumerable<T> ReadAsync<T>(string folder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct) where T : IGraphRow<T>
    {
        await foreach (var row in ReadAsync<T>((await ListFolderAsync(folder, ct)).Names, ct)) yield return row;
    }

    /// <summary>The rows of the files named, file after file, each file's as they are read (<see cref="HoldAllAsync"/>).</summary>
    public async IAsyncEnumerable<T> ReadAsync<T>(IReadOnlyList<string> names, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct) where T : IGraphRow<T>
    {
        await foreach (var file in HoldAllAsync(names, ct))
        {
            using var binary = file.Reader();
            var reader = new GraphRowReader(binary);
            for (int rows = binary.ReadInt32(); rows > 0; rows--) yield return T.ReadFrom(reader);
        }
    }

    /// <summary>
    /// The files named, one after the other, each held until the next is asked for. The next <see cref="FilesAhead"/>
    /// files are downloaded while one is read: an export stage reads a folder of a file per build partition, each a
    /// request, and one after the other they took most of its tables' loading.
    /// </summary>
    public async IAsyncEnumerable<PooledFile> HoldAllAsync(IReadOnlyList<string> names, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var downloads = new Queue<Task<PooledFile>>();
        try
        {
            for (int next = 0; next < names.Count || downloads.Count > 0;)
            {
                while (downloads.Count <= FilesAhead && next < names.Count) downloads.Enqueue(HoldAsync(names[next++], ct));
                using var file = await downloads.Dequeue();
                yield return file;
            }
        }
        finally
        {
            // Downloads left when the reading stopped early (a fault, or the reader done): their buffers go back to the
            // pool; a fault of theirs is moot, as what stopped the reading is what the caller sees.
            while (downloads.TryDequeue(out var download))
            {
                await Task.WhenAny(download);
                if (download.IsCompletedSuccessfully) download.Result.Dispose();
            }
        }
    }

    /// <summary>Files a folder's reading downloads ahead of the one it reads.</summary>
    private const int FilesAhead = 3;

    /// <summary>
    /// A partition's file of a set in a binary form of its own: one a stage keeps for itself (an adjacency, labels), or,
    /// with <paramref name="writer"/>, what that partition sent this one (a round's messages).
    /// </summary>
    public static string BinaryName(string root, string set, int partition, int? writer = null) =>
        $"{Folder(root, set, partition)}{(writer is { } w ? "w" + w.ToString("D4", CultureInfo.InvariantCulture) : "data")}.bin";

    /// <summary>Writes a file as <paramref name="write"/> makes it, in a pooled stream (<see cref="PooledStreams"/>).</summary>
    public async Task WriteFileAsync(string name, Action<BinaryWriter> write, CancellationToken ct)
    {
        using var buffer = PooledStreams.Get();
        using (var binary = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true)) write(binary);
        await UploadAsync(name, buffer, ct);
    }

    /// <summary>Writes a file from the whole of <paramref name="bytes"/>.</summary>
    public async Task UploadAsync(string name, Stream bytes, CancellationToken ct)
    {
        bytes.Position = 0;
        await _container.GetBlobClient(name).UploadAsync(bytes, overwrite: true, ct);
    }

    /// <summary>
    /// A file read whole by <paramref name="read"/> (which makes what it keeps of it), downloaded into a stream of pooled
    /// small blocks (<see cref="PooledStreams"/>). Read into pooled arrays of their size, a round's adjacency and labels
    /// (several MB each) kept those arrays in the host into the rules stage after them: the build's peak at
    /// N = 1,000,000 was 517 MB then, 456 MB since.
    /// </summary>
    public async Task<T> ReadFileAsync<T>(string name, Func<BinaryReader, T> read, CancellationToken ct)
    {
        using var buffer = PooledStreams.Get();
        await CheckedRanges.CopyAsync(_container.GetBlobClient(name), _ => buffer, ct);
        buffer.Position = 0;
        using var binary = new BinaryReader(buffer, System.Text.Encoding.UTF8, leaveOpen: true);
        return read(binary);
    }

    /// <summary>As <see cref="ReadFileAsync{T}"/>; null when there is no such file.</summary>
    public async Task<T?> TryReadFileAsync<T>(string name, Func<BinaryReader, T> read, CancellationToken ct) where T : class
    {
        try
        {
            return await ReadFileAsync(name, read, ct);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>The names of the files in a folder, and their bytes together.</summary>
    public async Task<(List<string> Names, long Bytes)> ListFolderAsync(string folder, CancellationToken ct)
    {
        var names = new List<string>();
        long bytes = 0;
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = folder }, ct))
        {
            names.Add(item.Name);
            bytes += item.Properties.ContentLength ?? 0;
        }
        return (names, bytes);
    }

    /// <summary>
    /// Buffers files are read into, whole: a build's files are up to a few MB, read and dropped by the thousand, and as
    /// arrays of their own they would churn the large object heap. Four of a size are kept, one per read the host's
    /// <see cref="Workflow.ShardReadGate"/> lets run at once (a heap dump in a <c>pdg</c> export at N = 1,000,000 found
    /// 31 MB kept with eight: the build's files are the large ones, read one at a time; an export's files, read
    /// <see cref="FilesAhead"/> at once, are a few hundred KB); bounded apart from the shared pool, which keeps arrays per
    /// processor, and let go of, a size at a time, when not rented for a while (the build's sizes through the exports after it).
    /// </summary>
    private static readonly ArrayPool<byte> Buffers = new IdleTrimmedArrayPool<byte>(maxArrayLength: 64 * 1024 * 1024, maxArraysPerSize: 4);

    /// <summary>A file's bytes, held in a pooled buffer until disposed, to be read at any place.</summary>
    public async Task<PooledFile> HoldAsync(string name, CancellationToken ct)
    {
        byte[]? buffer = null;
        try
        {
            long length = await CheckedRanges.CopyAsync(_container.GetBlobClient(name), length => new MemoryStream(buffer = Buffers.Rent(checked((int)length)), 0, (int)length), ct);
            return new PooledFile(buffer!, (int)length);
        }
        catch
        {
            if (buffer is not null) Buffers.Return(buffer);
            throw;
        }
    }

    /// <summary>A file's bytes in a buffer of <see cref="Buffers"/>, returned to it on disposal.</summary>
    public sealed class PooledFile(byte[] buffer, int length) : IDisposable
    {
        /// <summary>A reader of the file, over its buffer (which <see cref="GraphRowReader"/> reads texts in place from).</summary>
        public BinaryReader Reader() => new(new MemoryStream(buffer, 0, length, writable: false, publiclyVisible: true), System.Text.Encoding.UTF8);

        /// <summary>The file's bytes.</summary>
        public int Length => length;

        /// <summary>
        /// About how many rows a folder of <paramref name="folderBytes"/> holds, from this file of it: a tenth more than
        /// its rows per byte make of them, so that what is sized by it rarely grows once more.
        /// </summary>
        public int RowsIn(long folderBytes)
        {
            if (length < sizeof(int)) return 0;
            int rows = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(0, sizeof(int)));
            return (int)Math.Clamp(folderBytes * rows / length * 11 / 10, 0, Array.MaxLength / 2);
        }

        public void Dispose() => Buffers.Return(buffer);
    }

    public async Task<bool> ExistsAsync(string name, CancellationToken ct) => await _container.GetBlobClient(name).ExistsAsync(ct);

    public Task MarkAsync(string name, CancellationToken ct) => _container.GetBlobClient(name).UploadAsync(BinaryData.Empty, overwrite: true, ct);

    public const string CompleteName = "complete";
}
