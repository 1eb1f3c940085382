using System.Buffers;
using System.Numerics;

namespace ExportJobs.Service.Storage;

/// <summary>
/// A pool of large arrays, at most <c>maxArraysPerSize</c> of each power-of-two length, that lets go of a size's
/// arrays once none of that size has been rented for a quiet period (<see cref="QuietPeriod"/> unless told).
/// <see cref="ArrayPool{T}.Create(int, int)"/> keeps what it pooled for good: ingestion's chunks and a graph build's
/// files, a few MB each, then stayed in the host through the exports that followed (34 MB of a <c>pdg</c> export's heap
/// at N = 1,000,000, docs/performance.md), while dropping them as soon as they were returned made every batch allocate
/// its buffers anew. Its arrays are not cleared, new ones either (as a pooled one is not): a large array cleared when
/// made has every page of it touched, which a table rented at a power of two over what it holds never writes.
/// </summary>
public sealed class IdleTrimmedArrayPool<T> : ArrayPool<T>, IDisposable
{
    private readonly int _maxArrayLength;
    private readonly int _maxArraysPerSize;
    private readonly TimeProvider _time;
    private readonly TimeSpan _idle;
    private readonly Size[] _sizes;
    private readonly ITimer _trim;

    /// <summary>The arrays kept of one size, and when one of that size was last rented.</summary>
    private sealed class Size
    {
        public readonly Stack<T[]> Kept = new();
        public long LastRent;
    }

    /// <summary>How long a size's arrays stay kept with none of that size rented.</summary>
    public static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(30);

    public IdleTrimmedArrayPool(int maxArrayLength, int maxArraysPerSize) : this(maxArrayLength, maxArraysPerSize, QuietPeriod, TimeProvider.System) { }

    public IdleTrimmedArrayPool(int maxArrayLength, int maxArraysPerSize, TimeSpan idle, TimeProvider time)
    {
        (_maxArrayLength, _maxArraysPerSize, _time, _idle) = ((int)BitOperations.RoundUpToPowerOf2((uint)maxArrayLength), maxArraysPerSize, time, idle);
        _sizes = new Size[BitOperations.Log2((uint)_maxArrayLength) + 1];
        for (int i = 0; i < _sizes.Length; i++) _sizes[i] = new Size();
        _trim = time.CreateTimer(_ => Trim(), null, idle / 2, idle / 2);
    }

    public override T[] Rent(int minimumLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minimumLength);
        if (minimumLength == 0) return [];
        if (minimumLength > _maxArrayLength) return GC.AllocateUninitializedArray<T>(minimumLength);
        int index = BitOperations.Log2(BitOperations.RoundUpToPowerOf2((uint)minimumLength));
        var size = _sizes[index];
        lock (size)
        {
            size.LastRent = _time.GetTimestamp();
            if (size.Kept.TryPop(out var kept)) return kept;
        }
        return GC.AllocateUninitializedArray<T>(1 << index);
    }

    public override void Return(T[] array, bool clearArray = false)
    {
        ArgumentNullException.ThrowIfNull(array);
        // Arrays too large to pool, and arrays not of a pooled size, are left to the GC.
        if (array.Length == 0 || array.Length > _maxArrayLength || !BitOperations.IsPow2(array.Length)) return;
        if (clearArray) Array.Clear(array);
        var size = _sizes[BitOperations.Log2((uint)array.Length)];
        lock (size)
            if (size.Kept.Count < _maxArraysPerSize) size.Kept.Push(array);
    }

    /// <summary>Lets go of the arrays of every size not rented for the idle time.</summary>
    internal void Trim()
    {
        foreach (var size in _sizes)
            lock (size)
                if (size.Kept.Count > 0 && _time.GetElapsedTime(size.LastRent) >= _idle) size.Kept.Clear();
    }

    /// <summary>How many arrays are kept now, of every size (for tests).</summary>
    internal int KeptCount => _sizes.Sum(size => { lock (size) return size.Kept.Count; });

    public void Dispose() => _trim.Dispose();
}
