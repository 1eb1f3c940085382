using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// How many shards this process reads at once, for exports and compactions alike, whatever the number of activities it
/// runs (<see cref="ExportStorageOptions.MaxShardReadsPerHost"/>): a shard being read holds a few MB per run, so this
/// bounds the host's memory, while activities that read no shard (prepare, finalize, callbacks) run beside them.
/// </summary>
public sealed class ShardReadGate(IOptions<ExportStorageOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _reads = new(options.Value.MaxShardReadsPerHost);

    /// <summary>Waits for a free read; disposing the result frees it.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _reads.WaitAsync(ct);
        return new Read(_reads);
    }

    public void Dispose() => _reads.Dispose();

    private sealed class Read(SemaphoreSlim reads) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) reads.Release();
        }
    }
}
