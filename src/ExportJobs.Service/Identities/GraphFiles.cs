using System.Globalization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;
using Parquet.Serialization;

namespace ExportJobs.Service.Identities;

/// <summary>A link as a partition of the graph build keeps it: from an identity of the partition to another.</summary>
public class LinkRow
{
    public string Ns { get; set; } = "";
    public string Id { get; set; } = "";
    public string ToNs { get; set; } = "";
    public string ToId { get; set; } = "";
    public long Time { get; set; }
    public long Order { get; set; }

    /// <summary>The link from one of its identities to the other, as of the link.</summary>
    public static LinkRow Of(Identity from, Identity to, IdentityLink link) =>
        new() { Ns = from.Namespace, Id = from.Id, ToNs = to.Namespace, ToId = to.Id, Time = link.IngestTimeMs, Order = link.Order };
}

/// <summary>A link with the label of its component (the smallest fingerprint of its identities), as the rules stage reads it.</summary>
public sealed class ComponentLinkRow : LinkRow
{
    public long Label { get; set; }
}

/// <summary>An identity and another identity it is paired with: its component's label, or its graph's primary.</summary>
public sealed class PairRow
{
    public string Ns { get; set; } = "";
    public string Id { get; set; } = "";
    public string ToNs { get; set; } = "";
    public string ToId { get; set; } = "";

    public Identity Identity => new(Ns, Id);
    public Identity To => new(ToNs, ToId);

    public static PairRow Of(Identity identity, Identity to) => new() { Ns = identity.Namespace, Id = identity.Id, ToNs = to.Namespace, ToId = to.Id };
}

/// <summary>
/// Where a tenant's graph builds keep their files, in the profiles container beside the shards:
/// <c>{org}/{sandbox}/graphs/{key}/</c>, <c>key</c> naming what the build saw (see <see cref="IdentityGraphBuilder"/>).
/// What exports read stays: <c>map/p{k}/</c> (each identity of shard k that is not its own graph's primary, with its
/// primary) and <c>graph/p{k}/</c> (each graph whose primary is of shard k, one row per identity), and <c>complete</c>
/// once both are whole. Each build run works in a container of its own (<see cref="Work"/>), deleted at its end in one
/// request whatever the thousands of files it holds, so that two runs of one key (two exports at once) never read each
/// other's half-written files. Rows go in Parquet files written by <see cref="ParquetSerializer"/>, named by partition
/// and writer and numbered, so a retried activity replaces its own.
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
    public GraphFiles Work(Tenant tenant, string key, string runId, long seed)
    {
        string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes($"{tenant.BlobPrefix}/{key}/{runId}/{seed}")).AsSpan(0, 16));
        return new(_container.GetParentBlobServiceClient().GetBlobContainerClient(StorageNames.Container(_namePrefix, "graphwork-" + hash)), _namePrefix);
    }

    public Task CreateAsync(CancellationToken ct) => _container.CreateIfNotExistsAsync(cancellationToken: ct);

    /// <summary>Deletes this container and every file in it.</summary>
    public Task DeleteAsync(CancellationToken ct) => _container.DeleteIfExistsAsync(cancellationToken: ct);

    public static string Root(Tenant tenant, string key) => $"{tenant.BlobPrefix}/graphs/{key}/";

    public static string Folder(string root, string set, int partition) => $"{root}{set}/p{partition.ToString("D4", CultureInfo.InvariantCulture)}/";

    /// <summary>A writer's file of a partition of a set; a writer that sends a partition many rows writes them to several, numbered.</summary>
    public static string Name(string root, string set, int partition, int writer, int file = 0) =>
        $"{Folder(root, set, partition)}w{writer.ToString("D4", CultureInfo.InvariantCulture)}-{file.ToString("D4", CultureInfo.InvariantCulture)}.parquet";

    public async Task WriteAsync<T>(string name, IReadOnlyCollection<T> rows, CancellationToken ct) where T : class, new()
    {
        var blob = _container.GetBlobClient(name);
        using var buffer = new MemoryStream();
        await ParquetSerializer.SerializeAsync(rows, buffer, cancellationToken: ct);
        buffer.Position = 0;
        await blob.UploadAsync(buffer, overwrite: true, ct);
    }

    /// <summary>The rows of every file in a folder (a partition's share of one set), file after file.</summary>
    public async IAsyncEnumerable<T> ReadAsync<T>(string folder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct) where T : class, new()
    {
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = folder }, ct))
        {
            using var buffer = new MemoryStream();
            await _container.GetBlobClient(item.Name).DownloadToAsync(buffer, ct);
            buffer.Position = 0;
            foreach (var row in (await ParquetSerializer.DeserializeAsync<T>(buffer, cancellationToken: ct)).Data) yield return row;
        }
    }

    /// <summary>
    /// A partition's file of a set in a binary form of its own: one a stage keeps for itself (an adjacency, labels), or,
    /// with <paramref name="writer"/>, what that partition sent this one (a round's messages).
    /// </summary>
    public static string BinaryName(string root, string set, int partition, int? writer = null) =>
        $"{Folder(root, set, partition)}{(writer is { } w ? "w" + w.ToString("D4", CultureInfo.InvariantCulture) : "data")}.bin";

    public Task WriteBytesAsync(string name, byte[] bytes, CancellationToken ct) =>
        _container.GetBlobClient(name).UploadAsync(BinaryData.FromBytes(bytes), overwrite: true, ct);

    public async Task<byte[]> ReadBytesAsync(string name, CancellationToken ct) =>
        (await _container.GetBlobClient(name).DownloadContentAsync(ct)).Value.Content.ToArray();

    /// <summary>The contents of every file in a folder, file after file.</summary>
    public async IAsyncEnumerable<byte[]> ReadFolderBytesAsync(string folder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var item in _container.GetBlobsAsync(new GetBlobsOptions { Prefix = folder }, ct))
            yield return await ReadBytesAsync(item.Name, ct);
    }

    public async Task<bool> ExistsAsync(string name, CancellationToken ct) => await _container.GetBlobClient(name).ExistsAsync(ct);

    public Task MarkAsync(string name, CancellationToken ct) => _container.GetBlobClient(name).UploadAsync(BinaryData.Empty, overwrite: true, ct);

    public Task DeleteFolderAsync(string folder, CancellationToken ct) => _container.DeleteFolderAsync(folder, ct);

    public const string CompleteName = "complete";
}
