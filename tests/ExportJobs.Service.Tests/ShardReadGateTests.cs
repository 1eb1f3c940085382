using ExportJobs.Service.Storage;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Tests;

public sealed class ShardReadGateTests
{
    [Fact]
    public async Task A_read_waits_while_the_host_s_reads_are_taken_and_goes_on_once_one_ends()
    {
        using var gate = new ShardReadGate(Options.Create(new ExportStorageOptions { MaxShardReadsPerHost = 2 }));
        var first = await gate.EnterAsync(default);
        var second = await gate.EnterAsync(default);
        var third = gate.EnterAsync(default);
        Assert.False(third.IsCompleted);

        first.Dispose();
        first.Dispose(); // Freed once, however often it is disposed.
        (await third.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        var fourth = await gate.EnterAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        using var cancel = new CancellationTokenSource();
        var fifth = gate.EnterAsync(cancel.Token);
        Assert.False(fifth.IsCompleted, "two reads are held: a freed read counted twice would let a third in");
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fifth);
        second.Dispose();
        fourth.Dispose();
    }

    [Fact]
    public async Task Stitched_reads_wait_for_their_own_bound_and_count_among_the_host_s_reads()
    {
        using var gate = new ShardReadGate(Options.Create(new ExportStorageOptions { MaxShardReadsPerHost = 3, MaxStitchedReadsPerHost = 2 }));
        var first = await gate.EnterStitchedAsync(default);
        var second = await gate.EnterStitchedAsync(default);
        var third = gate.EnterStitchedAsync(default);
        Assert.False(third.IsCompleted, "two stitched reads are held");

        var plain = await gate.EnterAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        var another = gate.EnterAsync(default);
        Assert.False(another.IsCompleted, "the stitched reads count among the host's three");

        first.Dispose();
        (await another.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
        plain.Dispose();
        (await third.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();

        // The host's reads all taken (second's and two plain ones): a stitched read gets its own bound's place, then waits.
        var (full, fuller) = (await gate.EnterAsync(default), await gate.EnterAsync(default));
        using var cancel = new CancellationTokenSource();
        var waiting = gate.EnterStitchedAsync(cancel.Token);
        Assert.False(waiting.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        foreach (var read in new[] { full, fuller, second }) read.Dispose();
        // The cancelled wait gave its stitched place back: two stitched reads can be held again.
        using var again = await gate.EnterStitchedAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
        using var last = await gate.EnterStitchedAsync(default).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
