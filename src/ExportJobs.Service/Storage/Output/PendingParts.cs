using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Output;

/// <summary>
/// The parts a shard's export is gathering, one per output batch, and which of them to write next: a part once it has
/// <see cref="ExportStorageOptions.PartRows"/> rows, and the largest once all of them together hold
/// <see cref="ExportStorageOptions.PartBytes"/>. So what an export holds per shard is bounded whatever the number of
/// its batches (a job writes one per requested segment with <c>segmentPerBatch</c>, up to 100).
/// </summary>
public sealed class PendingParts(PartRows[] parts, int partRows, long partBytes)
{
    /// <summary>Each part's <see cref="PartRows.Bytes"/> as last counted (a count loops over its columns, so once a row), and their sum.</summary>
    private readonly long[] _bytes = new long[parts.Length];
    private long _held;

    public PartRows this[int batch] => parts[batch];

    public int Count => parts.Length;

    /// <summary>Adds a row (read at once) to a batch's part; returns the batch whose part is to be written now, or -1.</summary>
    public int Add(int batch, MergedValue row)
    {
        var part = parts[batch];
        part.Add(row);
        Recount(batch);
        if (part.Count >= partRows) return batch;
        if (_held < partBytes) return -1;
        int largest = batch;
        for (int b = 0; b < parts.Length; b++)
            if (_bytes[b] > _bytes[largest]) largest = b;
        return largest;
    }

    /// <summary>After a batch's part was written: it starts again, empty.</summary>
    public void Written(int batch)
    {
        parts[batch].Clear();
        Recount(batch);
    }

    private void Recount(int batch)
    {
        long bytes = parts[batch].Bytes;
        _held += bytes - _bytes[batch];
        _bytes[batch] = bytes;
    }
}
