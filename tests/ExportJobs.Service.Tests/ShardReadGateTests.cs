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
}
