using Azure.Storage.Blobs;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The fragments of one shard that a job computes (segment memberships), added in identity order and written as one
/// file when complete: replacing the file written before under its name, or with no fragment, deleting it. They go to a
/// local file as they come, so what a shard's job holds does not grow with the shard. Records with a top-level name
/// other than <c>members</c> are kept whole. The local file becomes the host's copy of the blob once uploaded.
/// </summary>
internal sealed class ShardFileWriter(BlobClient blob, string datasetId, string batchId, long ingestTimeMs, IReadOnlyList<MemberName> members,
    FragmentFileCache cache) : IAsyncDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"exportjobs-{Guid.NewGuid():N}.parquet");
    private FileStream? _output;
    private FragmentFileWriter? _writer;
    private long _rows;

    /// <param name="record">The record's JSON text (an object), held until its row group is written.</param>
    public async Task AddAsync(Identity identity, ReadOnlyMemory<byte> record, CancellationToken ct)
    {
        if (_writer is null)
        {
            _output = File.Create(_path);
            _writer = FragmentFileWriter.Create(_output, members);
        }
        await _writer.AddAsync(new FragmentRow(identity.Namespace, identity.Id, ingestTimeMs, datasetId, batchId, StoredRecord.Split(record), _rows++), ct);
    }

    public async Task CompleteAsync(CancellationToken ct)
    {
        if (_writer is null)
        {
            cache.Remove(blob);
            await blob.DeleteIfExistsAsync(cancellationToken: ct);
            return;
        }
        await CloseAsync();
        var written = await blob.UploadAsync(_path, overwrite: true, ct);
        cache.Add(blob, written.Value.ETag, _path);
    }

    private async Task CloseAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync();
        if (_output is not null) await _output.DisposeAsync();
        (_writer, _output) = (null, null);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        File.Delete(_path);
    }
}
