using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ExportJobs.TestSupport;

/// <summary>A completion-callback receiver on loopback that checks each signature as a customer would, failing the first posts on purpose.</summary>
public sealed class CallbackReceiver : IAsyncDisposable
{
    public sealed record Delivery(bool SignatureValid, string? JobStatus, int Answered);

    private readonly WebApplication _app;
    private int _posts;

    public ConcurrentQueue<Delivery> Deliveries { get; } = new();
    public string Url { get; private set; } = "";

    private CallbackReceiver(WebApplication app) => _app = app;

    public static async Task<CallbackReceiver> StartAsync(string secret, int failFirst)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var receiver = new CallbackReceiver(builder.Build());
        receiver._app.MapPost("/hook", async (HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            byte[] body = buffer.ToArray();
            bool valid = long.TryParse(request.Headers[CallbackRules.TimestampHeader], out long timestamp) &&
                         request.Headers[CallbackRules.SignatureHeader] == CallbackRules.Sign(secret, timestamp, body);
            int answer = Interlocked.Increment(ref receiver._posts) <= failFirst ? 500 : 200;
            receiver.Deliveries.Enqueue(new Delivery(valid, (string?)JsonNode.Parse(body)?["status"], answer));
            return Results.StatusCode(answer);
        });
        await receiver._app.StartAsync();
        receiver.Url = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
