using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>Section <c>ExportJobs:Callbacks</c>.</summary>
public sealed class CallbackOptions
{
    public const string Section = "ExportJobs:Callbacks";

    /// <summary>Whether a callback may go to a loopback address (local runs). Never in Azure.</summary>
    public bool AllowLoopback { get; set; }

    /// <summary>The ports a callback URL may name (loopback URLs aside).</summary>
    [MinLength(1)] public int[] Ports { get; set; } = [443];

    public CallbackPolicy Policy => new(AllowLoopback, Ports);

    /// <summary>Deliveries tried, with exponential backoff from one second, before giving up.</summary>
    [Range(1, 20)] public int MaxAttempts { get; set; } = 5;

    [Range(1, 120)] public int TimeoutSeconds { get; set; } = 10;
}

/// <summary>
/// Posts a job that has ended to its callback URL, signed (see <see cref="CallbackRules"/>), and records the attempt on
/// the job. A delivery that fails throws, so that the orchestration's retry policy tries again with backoff.
/// </summary>
public sealed class CallbackNotifier(JobStore jobs, IHttpClientFactory http, IOptions<CallbackOptions> options, TimeProvider time, ILogger<CallbackNotifier> log)
{
    public const string HttpClientName = "callbacks";

    public sealed class DeliveryFailedException(string message) : Exception(message);

    public async Task<bool> NotifyAsync(ExportJobInput input, CancellationToken ct)
    {
        var tenant = input.Tenant;
        var job = await jobs.GetAsync(tenant, input.JobId, ct);
        if (job?.Callback is not { } callback || callback.Attempts?.Any(a => a.Delivered) == true) return true;
        string secret = await jobs.GetHiddenAsync(tenant, job.Id, JobStore.Hidden.CallbackSecret, ct) ?? "";
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(job, CoreJson.Wire.ExportJob);
        // A URL stored under other settings (a port no longer allowed, loopback off) is refused here too.
        var (status, failure) = CallbackRules.Refusal(callback.Url, options.Value.Policy) is { } refusal
            ? (null, refusal)
            : await PostAsync(new Uri(callback.Url), secret, body, ct);

        bool delivered = status is >= 200 and < 300;
        // What the job shows says only that delivery failed (and the status, when one came): telling a refused connection
        // from a TLS failure or a refused address would make callbacks a port scanner. The log keeps the cause.
        string? error = delivered ? null : "delivery failed";
        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await jobs.UpdateAsync(tenant, job.Id, j => j.Callback is null ? null : j with
        {
            Callback = j.Callback with
            {
                Attempts = [.. j.Callback.Attempts ?? [], new CallbackAttempt((j.Callback.Attempts?.Count ?? 0) + 1, now, status, error, delivered)],
            },
        }, ct);
        log.LogInformation("Callback of export job {JobId}: status {Status} {Failure}", job.Id, status, failure);
        if (!delivered) throw new DeliveryFailedException($"callback of job {job.Id} answered {status?.ToString(CultureInfo.InvariantCulture) ?? error}.");
        return true;
    }

    /// <summary>Posts the signed body; the status that came back, or why none did.</summary>
    private async Task<(int? Status, string? Failure)> PostAsync(Uri url, string secret, byte[] body, CancellationToken ct)
    {
        long timestamp = time.GetUtcNow().ToUnixTimeSeconds();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add(CallbackRules.TimestampHeader, timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add(CallbackRules.SignatureHeader, CallbackRules.Sign(secret, timestamp, body));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.TimeoutSeconds));
            using var response = await http.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
            return ((int)response.StatusCode, null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (null, e.InnerException?.Message ?? e.Message);
        }
    }
}
