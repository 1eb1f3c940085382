using System.Buffers;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The large buffers of ingestion (a line buffer, a chunk of accepted lines), pooled apart from the shared pool: that
/// one keeps arrays per processor, so after a burst of ingestions it would hold many megabytes the export that follows
/// cannot use. This pool keeps at most a few of each size, and none once no ingestion holds one: a heap dump of an
/// export found 21 MB of chunks kept from the bulk load before it.
/// </summary>
public sealed class IngestionBuffers : ArrayPool<byte>
{
    public static readonly IngestionBuffers Pool = new();

    private ArrayPool<byte> _arrays = Arrays();
    private int _rented;

    public override byte[] Rent(int minimumLength)
    {
        Interlocked.Increment(ref _rented);
        return Volatile.Read(ref _arrays).Rent(minimumLength);
    }

    public override void Return(byte[] array, bool clearArray = false)
    {
        Volatile.Read(ref _arrays).Return(array, clearArray);
        // The last one back: the arrays kept go with the pool they are in. An array rented meanwhile from it is returned
        // to the next one, which is as good.
        if (Interlocked.Decrement(ref _rented) == 0) Volatile.Write(ref _arrays, Arrays());
    }

    private static ArrayPool<byte> Arrays() => Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 4);
}
