using ExportJobs.Service.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

/// <summary>A pooled array grows into a larger one from its pool, and what goes back to the pool holds no references.</summary>
public class PooledArraysTests
{
    [Fact]
    public void A_grown_array_holds_the_items_used_and_the_outgrown_one_goes_back_cleared()
    {
        using var pool = new IdleTrimmedArrayPool<string?>(1 << 20, 2, TimeSpan.FromMinutes(1), new FakeTimeProvider());
        var small = pool.Rent(4);
        small[0] = "a";
        small[1] = "b";

        var grown = PooledArrays.Grown(pool, small, used: 2, length: 8);

        Assert.Equal(8, grown.Length);
        Assert.Equal(new string?[] { "a", "b", null, null }, grown.Take(4));
        Assert.Equal(1, pool.KeptCount);
        Assert.Same(small, pool.Rent(4));
        Assert.All(small, Assert.Null);
    }

    [Fact]
    public void An_array_of_values_goes_back_as_it_is_and_an_empty_one_not_at_all()
    {
        using var pool = new IdleTrimmedArrayPool<int>(1 << 20, 2, TimeSpan.FromMinutes(1), new FakeTimeProvider());
        var values = pool.Rent(16);
        values[0] = 7;

        PooledArrays.Return(pool, values, used: 1);
        PooledArrays.Return(pool, [], used: 0);

        Assert.Equal(1, pool.KeptCount);
        // Values refer to nothing: the pool's next renter writes over them, as over any array it rents.
        Assert.Equal(7, pool.Rent(16)[0]);
    }
}
