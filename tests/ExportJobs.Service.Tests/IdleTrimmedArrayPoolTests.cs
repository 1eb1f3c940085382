using ExportJobs.Service.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

/// <summary>The pool of ingestion's and graph files' buffers keeps arrays while their size is in use, and lets go of them once it is not.</summary>
public class IdleTrimmedArrayPoolTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);

    [Fact]
    public void A_returned_array_is_rented_again_while_its_size_is_in_use()
    {
        var clock = new FakeTimeProvider();
        using var pool = new IdleTrimmedArrayPool<byte>(1 << 20, 2, Quiet, clock);
        var first = pool.Rent(100_000);
        Assert.Equal(131_072, first.Length);
        pool.Return(first);
        for (int i = 0; i < 5; i++)
        {
            clock.Advance(Quiet / 2);
            var again = pool.Rent(70_000);
            Assert.Same(first, again);
            pool.Return(again);
        }
    }

    [Fact]
    public void The_arrays_of_a_size_not_rented_for_the_quiet_period_are_let_go_and_others_kept()
    {
        var clock = new FakeTimeProvider();
        using var pool = new IdleTrimmedArrayPool<byte>(1 << 20, 2, Quiet, clock);
        var idle = pool.Rent(1 << 20);
        var busy = pool.Rent(1 << 16);
        pool.Return(idle);
        pool.Return(busy);
        for (int i = 0; i < 4; i++)
        {
            clock.Advance(Quiet / 4);
            pool.Return(pool.Rent(1 << 16));
        }
        // The pool's own timer has run (every half quiet period) and let go of the size no one rented.
        Assert.Equal(1, pool.KeptCount);
        Assert.Same(busy, pool.Rent(1 << 16));
        Assert.NotSame(idle, pool.Rent(1 << 20));
    }

    [Fact]
    public void It_keeps_at_most_its_count_of_a_size_and_nothing_it_would_not_hand_out()
    {
        using var pool = new IdleTrimmedArrayPool<byte>(1 << 20, 2, Quiet, new FakeTimeProvider());
        var rented = Enumerable.Range(0, 3).Select(_ => pool.Rent(4096)).ToList();
        Assert.Equal(3, rented.Distinct().Count());
        rented.ForEach(array => pool.Return(array));
        pool.Return(new byte[1000]);
        pool.Return(new byte[2 << 20]);
        var huge = pool.Rent(3 << 20);
        Assert.Equal(3 << 20, huge.Length);
        pool.Return(huge);
        Assert.Equal(2, pool.KeptCount);
    }
}
