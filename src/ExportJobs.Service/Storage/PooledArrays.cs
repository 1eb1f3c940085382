using System.Buffers;
using System.Runtime.CompilerServices;

namespace ExportJobs.Service.Storage;

/// <summary>Arrays rented from a pool that grow by renting a larger one and giving the outgrown one back.</summary>
internal static class PooledArrays
{
    /// <summary>
    /// A rented array of at least <paramref name="length"/> items, holding the first <paramref name="used"/> of
    /// <paramref name="array"/>, which goes back to <paramref name="pool"/> (<see cref="Return{T}"/>).
    /// </summary>
    public static T[] Grown<T>(ArrayPool<T> pool, T[] array, int used, int length)
    {
        var grown = pool.Rent(length);
        array.AsSpan(0, used).CopyTo(grown);
        Return(pool, array, used);
        return grown;
    }

    /// <summary>
    /// Gives <paramref name="array"/> back to <paramref name="pool"/> (an empty one, never rented, is not), its first
    /// <paramref name="used"/> items cleared when they hold references: pooled, it would keep what they refer to alive.
    /// The rest of it was never written since it was rented, so it is as the pool gave it.
    /// </summary>
    public static void Return<T>(ArrayPool<T> pool, T[] array, int used)
    {
        if (array.Length == 0) return;
        if (RuntimeHelpers.IsReferenceOrContainsReferences<T>()) Array.Clear(array, 0, used);
        pool.Return(array);
    }
}
