using System.Collections.Concurrent;
using Azure.Core;
using Azure.Core.Pipeline;

namespace ExportJobs.TestSupport;

/// <summary>
/// A pipeline policy that records the blob listings made, by the prefix they listed: registered as an
/// <see cref="HttpPipelinePolicy"/> in a <see cref="ServiceHarness"/>, it sees every request of the service's blob clients.
/// </summary>
public sealed class BlobListings : HttpPipelineSynchronousPolicy
{
    private readonly ConcurrentQueue<string> _prefixes = new();

    /// <summary>The listings of exactly this prefix.</summary>
    public int Of(string prefix) => _prefixes.Count(p => p == prefix);

    /// <summary>The listings of prefixes that start with this one and are longer.</summary>
    public int Under(string prefix) => _prefixes.Count(p => p.Length > prefix.Length && p.StartsWith(prefix, StringComparison.Ordinal));

    public void Clear() => _prefixes.Clear();

    public override void OnSendingRequest(HttpMessage message)
    {
        var query = System.Web.HttpUtility.ParseQueryString(message.Request.Uri.Query);
        if (query["comp"] == "list" && query["prefix"] is { } prefix) _prefixes.Enqueue(prefix);
    }
}
