using System.Net;
using System.Net.Sockets;
using ExportJobs.LocalHost;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// The LocalHost's work-item visibility timeout is short (a dead host's activities come back quickly), so a running
/// activity's lock must be renewed: an activity four times longer than the timeout runs once, though a second host on
/// the same task hub is free to take it the moment its message shows again.
/// </summary>
public sealed class ActivityLockRenewalTests
{
    private static int _runs;

    private static WebApplication Host(string prefix, int activities)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var settings = TestStorage.Settings(prefix);
        settings["DurableTask:VisibilityTimeoutSeconds"] = "2";
        settings["DurableTask:MaxConcurrentActivities"] = activities.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return LocalHostApp.Build(["--urls", $"http://127.0.0.1:{port}"], b =>
        {
            b.Configuration.AddInMemoryCollection(settings);
            // Added to the LocalHost worker's own task registry (what AddTasks configures).
            b.Services.Configure<DurableTaskRegistry>(Microsoft.Extensions.Options.Options.DefaultName, r =>
            {
                r.AddOrchestratorFunc<int, int>("SlowOrchestration", (context, input) => context.CallActivityAsync<int>("SlowActivity", input));
                r.AddActivityFunc<int, int>("SlowActivity", async (_, input) =>
                {
                    Interlocked.Increment(ref _runs);
                    // Slow on purpose: four visibility timeouts.
                    await Task.Delay(TimeSpan.FromSeconds(8));
                    return input + 1;
                });
            });
        });
    }

    [Fact]
    public async Task An_activity_that_runs_longer_than_the_visibility_timeout_runs_once_across_hosts()
    {
        string prefix = TestStorage.NewPrefix();
        // Host A has one activity slot: once the activity runs there, only host B can take its message if it shows again.
        await using var a = Host(prefix, activities: 1);
        await a.StartAsync();
        var client = a.Services.GetRequiredService<DurableTaskClient>();
        string id = await client.ScheduleNewOrchestrationInstanceAsync("SlowOrchestration", 41);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (Volatile.Read(ref _runs) == 0 && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(1, Volatile.Read(ref _runs));

        await using var b = Host(prefix, activities: 4);
        await b.StartAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        Assert.Equal(42, done.ReadOutputAs<int>());
        Assert.Equal(1, Volatile.Read(ref _runs));
        await b.StopAsync();
        await a.StopAsync();
    }
}
