using System.Globalization;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Identities;

/// <summary>
/// Removes a tenant's graph builds once newer ones replace them. When a build completes, every other build of its
/// tenant is marked superseded (container metadata <c>superseded</c>, Unix ms), and one marked at least
/// <see cref="ExportStorageOptions.SupersededBuildMinutes"/> before is deleted, container and all: an export that
/// started on it before the newer build completed has that long to finish. A build an export reuses loses its mark,
/// as does the build that completes.
/// </summary>
public sealed class SupersededBuilds(StorageClients clients, GraphFiles files, IOptions<ExportStorageOptions> options, TimeProvider time)
{
    public const string SupersededKey = "superseded";

    private BlobServiceClient Service => clients.Profiles.GetParentBlobServiceClient();

    private BlobContainerClient Build(Tenant tenant, string key) => files.Build(tenant, key).Container;

    /// <summary>
    /// Marks the tenant's builds other than <paramref name="key"/> superseded, deletes those marked long enough ago, and
    /// clears <paramref name="key"/>'s own mark; returns how many it deleted.
    /// </summary>
    public async Task<int> RetireOthersAsync(Tenant tenant, string key, CancellationToken ct)
    {
        string own = Build(tenant, key).Name;
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        long retention = (long)TimeSpan.FromMinutes(options.Value.SupersededBuildMinutes).TotalMilliseconds;
        int deleted = 0;
        await foreach (var build in Service.GetBlobContainersAsync(BlobContainerTraits.Metadata, BlobContainerStates.None,
            StorageNames.BuildsContainers(options.Value.NamePrefix, tenant.BlobPrefix), ct))
        {
            var container = Service.GetBlobContainerClient(build.Name);
            var since = SupersededAt(build.Properties.Metadata);
            if (build.Name == own)
            {
                if (since is not null) await ClearMarkAsync(container, ct);
            }
            else if (since is null)
                await container.SetMetadataAsync(new Dictionary<string, string> { [SupersededKey] = now.ToString(CultureInfo.InvariantCulture) }, cancellationToken: ct);
            else if (now - since.Value >= retention && (await container.DeleteIfExistsAsync(cancellationToken: ct)).Value)
                deleted++;
        }
        return deleted;
    }

    /// <summary>Clears the build's superseded mark, if it has one: it is the tenant's current build again.</summary>
    public async Task KeepAsync(Tenant tenant, string key, CancellationToken ct)
    {
        var container = Build(tenant, key);
        var properties = await container.GetPropertiesAsync(cancellationToken: ct);
        if (SupersededAt(properties.Value.Metadata) is not null) await ClearMarkAsync(container, ct);
    }

    private static async Task ClearMarkAsync(BlobContainerClient container, CancellationToken ct) =>
        await container.SetMetadataAsync(new Dictionary<string, string>(), cancellationToken: ct);

    private static long? SupersededAt(IDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(SupersededKey, out string? text) && long.TryParse(text, CultureInfo.InvariantCulture, out long at) ? at : null;
}
