using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Tests;

/// <summary>Ingestion's buffers are reused while ingestions hold some, and let go once none does.</summary>
public class IngestionBuffersTests
{
    [Fact]
    public void A_buffer_is_reused_while_another_is_held_and_let_go_once_none_is()
    {
        var pool = new IngestionBuffers();
        var held = pool.Rent(1024 * 1024);
        var chunk = pool.Rent(8 * 1024 * 1024);
        pool.Return(chunk);
        Assert.Same(chunk, pool.Rent(8 * 1024 * 1024));

        pool.Return(chunk);
        pool.Return(held);
        Assert.NotSame(chunk, pool.Rent(8 * 1024 * 1024));
    }
}
