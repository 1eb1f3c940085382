using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ExportJobs.Service.Storage;

public static class BlobFolders
{
    /// <summary>How many deletes of one folder are in flight at once: a graph build's work folder holds thousands of small files.</summary>
    private const int DeletesAtOnce = 16;

    /// <summary>Deletes every blob whose name starts with <paramref name="prefix"/>, several at once; returns how many were listed.</summary>
    public static async Task<int> DeleteFolderAsync(this BlobContainerClient container, string prefix, CancellationToken ct)
    {
        int listed = 0;
        await Parallel.ForEachAsync(container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, ct),
            new ParallelOptions { MaxDegreeOfParallelism = DeletesAtOnce, CancellationToken = ct },
            async (blob, token) =>
            {
                await container.DeleteBlobIfExistsAsync(blob.Name, cancellationToken: token);
                Interlocked.Increment(ref listed);
            });
        return listed;
    }
}
