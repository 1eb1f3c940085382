using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// How many shards this process reads at once, for exports and compactions alike, whatever the number of activities it
/// runs (<see cref="ExportStorageOptions.MaxShardReadsPerHost"/>): a shard being read holds a few MB per run, so this
/// bounds the host's memory, while activities that read no shard (prepare, finalize, callbacks) run beside them. The
/// stages of a <c>pdg</c> export also hold their graph build's tables per read, so fewer of those run at once
/// (<see cref="ExportStorageOptions.MaxStitchedReadsPerHost"/>), each counting among the host's reads too.
/// </summary>
public sealed class ShardReadGate(IOptions<ExportStorageOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _reads = new(options.Value.MaxShardReadsPerHost);
    private readonly SemaphoreSlim _stitched = new(options.Value.MaxStitchedReadsPerHost);

    /// <summary>Waits for a free read; disposing the result frees it.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _reads.WaitAsync(ct);
        return new Read(_reads);
    }

    /// <summary>Waits for a free read of a <c>pdg</c> export's stage, then for a free read; disposing the result frees both.</summary>
    public async Task<IDisposable> EnterStitchedAsync(CancellationToken ct)
    {
        await _stitched.WaitAsync(ct);
        try
        {
            await _reads.WaitAsync(ct);
        }
        catch
        {
            _stitched.Release();
            throw;
        }
        return new Read(_reads, _stitched);
    }

    public void Dispose()
    {
        _reads.Dispose();
        _stitched.Dispose();
    }

    private sealed class Read(params SemaphoreSlim[] held) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            foreach (var semaphore in held) semaphore.Release();
        }
    }
}
