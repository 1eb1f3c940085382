using System.Net;
using System.Net.Sockets;
using ExportJobs.Service.Http;
using ExportJobs.TestSupport;

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
}
