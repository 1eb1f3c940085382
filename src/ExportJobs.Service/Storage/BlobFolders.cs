using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ExportJobs.Service.Storage;

public static class BlobFolders
{
    /// <summary>Deletes every blob whose name starts with <paramref name="prefix"/>; returns how many were listed.</summary>
    public static async Task<int> DeleteFolderAsync(this BlobContainerClient container, string prefix, CancellationToken ct)
    {
        int listed = 0;
        await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, ct))
        {
            await container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: ct);
            listed++;
        }
        return listed;
    }
}
