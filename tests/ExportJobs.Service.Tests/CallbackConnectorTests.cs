using System.Net;
using System.Net.Sockets;
using ExportJobs.Service.Workflow;

namespace ExportJobs.Service.Tests;

/// <summary>
/// Callbacks are checked where they connect. Every name here resolves through a test resolver, and the only listener
/// is on loopback: nothing is ever sent anywhere else.
/// </summary>
public sealed class CallbackConnectorTests : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public CallbackConnectorTests() => _listener.Start();

    public void Dispose() => _listener.Stop();

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    private sealed class FixedResolver(params IPAddress[] addresses) : IHostResolver
    {
        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Task.FromResult(addresses);
    }

    /// <summary>Whether a connection reached the listener within a short deadline (polled, not slept).</summary>
    private async Task<bool> ConnectionArrivedAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < deadline)
        {
            if (_listener.Pending()) return true;
            await Task.Delay(20);
        }
        return false;
    }

    [Fact]
    public async Task A_name_that_resolves_to_loopback_is_refused_before_connecting()
    {
        using var client = new HttpClient(CallbackConnector.CreateHandler(new FixedResolver(IPAddress.Loopback), allowLoopback: false));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync($"http://hooks.acme.io:{Port}/hook", new StringContent("{}")));
        Assert.IsType<CallbackConnector.AddressRefusedException>(e.InnerException);
        Assert.False(await ConnectionArrivedAsync());
    }

    [Fact]
    public async Task A_rebinding_name_is_checked_on_the_address_actually_connected()
    {
        // Public once (creation-time checks passed), then private and IPv4-mapped loopback: refused at connect.
        using var client = new HttpClient(CallbackConnector.CreateHandler(
            new FixedResolver(IPAddress.Parse("10.0.0.7"), IPAddress.Parse("::ffff:127.0.0.1"), IPAddress.Parse("169.254.169.254")), allowLoopback: true));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.PostAsync($"http://hooks.acme.io:{Port}/hook", new StringContent("{}")));
        Assert.IsType<CallbackConnector.AddressRefusedException>(e.InnerException);
        Assert.False(await ConnectionArrivedAsync());
    }

    [Fact]
    public async Task Loopback_is_reached_where_the_host_allows_it()
    {
        await using var stream = await CallbackConnector.ConnectAsync(new FixedResolver(IPAddress.Loopback), allowLoopback: true,
            new DnsEndPoint("hooks.acme.io", Port), CancellationToken.None);
        Assert.True(await ConnectionArrivedAsync());
    }
}
