using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Storage.Output;

/// <summary>
/// The files of a dataset batch written by an export, at <c>{org}/{sandbox}/{datasetId}/{batchId}/</c> in the
/// datasets container: Parquet parts named by shard and sequence (<c>part-{shard}-{sequence}.parquet</c>, deterministic
/// names, so a shard run twice replaces its parts instead of adding some) and a <c>manifest.json</c> written last.
/// </summary>
public sealed class DatasetBatchFiles(StorageClients clients)
{
    public const string ManifestName = "manifest.json";

    public static string Folder(Tenant tenant, string datasetId, string batchId) => $"{tenant.BlobPrefix}/{datasetId}/{batchId}/";

    public static string PartName(int shard, int sequence) =>
        $"part-{shard.ToString("D5", CultureInfo.InvariantCulture)}-{sequence.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>Writes one part holding <paramref name="rows"/>; returns its size in bytes.</summary>
    public async Task<long> WritePartAsync(Tenant tenant, string datasetId, string batchId, string name, PartRows rows, CancellationToken ct)
    {
        var buffer = await rows.WriteAsync(ct);
        long size = buffer.Length;
#pragma warning disable CA5351 // Content-MD5 is the storage service's integrity check, not a security measure.
        // Read from the stream, which may be of pooled blocks (PooledStreams): asked for one buffer, it would make one.
        byte[] md5 = MD5.HashData(buffer);
#pragma warning restore CA5351
        buffer.Position = 0;
        // The MD5 is stored as the blob's Content-MD5, so listings and downloads carry it for the manifest and for readers.
        await clients.DatasetFiles.GetBlobClient(Folder(tenant, datasetId, batchId) + name).UploadAsync(buffer,
            new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentHash = md5, ContentType = "application/vnd.apache.parquet" } }, ct);
        return size;
    }

    public async Task WriteManifestAsync(Tenant tenant, string datasetId, string batchId, JsonObject manifest, CancellationToken ct)
    {
        var blob = clients.DatasetFiles.GetBlobClient(Folder(tenant, datasetId, batchId) + ManifestName);
        await blob.UploadAsync(BinaryData.FromString(manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true })), overwrite: true, ct);
    }

    /// <summary>Whether <paramref name="name"/> is the name of a file a batch can hold (a part or the manifest).</summary>
    public static bool IsFileName(string? name) =>
        name == ManifestName ||
        (name is { Length: 24 } && name.StartsWith("part-", StringComparison.Ordinal) && name.EndsWith(".parquet", StringComparison.Ordinal) &&
         name[10] == '-' && name.AsSpan(5, 5).IndexOfAnyExceptInRange('0', '9') < 0 && name.AsSpan(11, 5).IndexOfAnyExceptInRange('0', '9') < 0);

    /// <summary>The files of the batch (parts and manifest) by name, with their sizes and base64 MD5, in name order.</summary>
    public async Task<IReadOnlyList<(string Name, long Size, string? Md5)>> ListAsync(Tenant tenant, string datasetId, string batchId, CancellationToken ct)
    {
        var files = new List<(string, long, string?)>();
        string folder = Folder(tenant, datasetId, batchId);
        await foreach (var blob in clients.DatasetFiles.GetBlobsAsync(new GetBlobsOptions { Prefix = folder }, ct))
            files.Add((blob.Name[folder.Length..], blob.Properties.ContentLength ?? 0,
                blob.Properties.ContentHash is { Length: > 0 } hash ? Convert.ToBase64String(hash) : null));
        return files;
    }

    /// <summary>A file of the batch to read, or null when there is none of that name.</summary>
    public async Task<Stream?> OpenReadAsync(Tenant tenant, string datasetId, string batchId, string name, CancellationToken ct)
    {
        var blob = clients.DatasetFiles.GetBlobClient(Folder(tenant, datasetId, batchId) + name);
        try
        {
            return await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), ct);
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>Removes every file of the batch (a cancelled or failed export leaves none behind).</summary>
    public Task<int> DeleteAsync(Tenant tenant, string datasetId, string batchId, CancellationToken ct) =>
        clients.DatasetFiles.DeleteFolderAsync(Folder(tenant, datasetId, batchId), ct);
}
