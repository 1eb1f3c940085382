using Azure.Core;
using Azure.Core.Pipeline;

namespace ExportJobs.TestSupport;

/// <summary>A pipeline policy that counts the requests a client sends (registered as an <see cref="HttpPipelinePolicy"/> in a <see cref="ServiceHarness"/>: the service's blob clients').</summary>
public sealed class CountRequests : HttpPipelinePolicy
{
    /// <summary>The requests sent since it was made, or since a test set it back to 0.</summary>
    public int Count;

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Interlocked.Increment(ref Count);
        ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Interlocked.Increment(ref Count);
        return ProcessNextAsync(message, pipeline);
    }
}
