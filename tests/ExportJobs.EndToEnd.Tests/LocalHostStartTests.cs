using System.Net;
using System.Net.Sockets;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>How the tests start a LocalHost of their own: on a port that is free when it binds.</summary>
public sealed class LocalHostStartTests
{
    [Fact]
    public async Task A_host_whose_port_is_taken_before_it_binds_starts_on_another()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        var tried = new List<int>();
        int Ports()
        {
            // The taken port first, as when another socket takes a reported port before the host binds it; then free ones.
            tried.Add(tried.Count == 0 ? takenPort : LoopbackPorts.Free());
            return tried[^1];
        }

        await using var host = await LocalHostFixture.StartAsync(TestStorage.Settings(TestStorage.NewPrefix()), ports: Ports);

        Assert.Equal(2, tried.Count);
        var url = new Uri(host.Urls.Single());
        Assert.Equal(tried[1], url.Port);
        using var client = new HttpClient { BaseAddress = new Uri(url, $"/{Routes.Prefix}/") };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("openapi.json")).StatusCode);
    }

    [Fact]
    public async Task A_host_warming_up_listens_only_once_its_warm_up_is_over()
    {
        var settings = TestStorage.Settings(TestStorage.NewPrefix());
        settings["ExportJobs:WarmUpSeconds"] = "60";
        int port = 0, triedWhileWarming = 0;

        await using var host = await LocalHostFixture.StartAsync(settings, ports: () => port = LoopbackPorts.Free(),
            whileStarting: async app => triedWhileWarming = await ProbeWhileWarmingAsync(app.Services.GetRequiredService<IngestionWarmUp>(), port));

        var warmUp = host.Services.GetRequiredService<IngestionWarmUp>();
        Assert.True(warmUp.Done);
        Assert.InRange(warmUp.Rounds, 4, int.MaxValue);
        Assert.InRange(triedWhileWarming, 1, int.MaxValue);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/{Routes.Prefix}/") };
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("openapi.json")).StatusCode);
    }

    /// <summary>Tries to connect to the host's port every 10 ms until its warm-up is over; returns how many tries came before.</summary>
    private static async Task<int> ProbeWhileWarmingAsync(IngestionWarmUp warmUp, int port)
    {
        int tries = 0;
        var deadline = DateTime.UtcNow + LocalHostFixture.Deadline;
        while (!warmUp.Done && DateTime.UtcNow < deadline)
        {
            using var probe = new TcpClient();
            bool connected;
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                connected = true;
            }
            catch (SocketException)
            {
                connected = false;
            }
            // Read after the attempt: a connection made while the warm-up was not over is one the host took too soon.
            bool done = warmUp.Done;
            Assert.False(connected && !done, "the host listened before its warm-up was over");
            if (!done) tries++;
            await Task.Delay(10);
        }
        return tries;
    }
}
