using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// The LocalHost's work-item visibility timeout is short (a dead host's activities come back quickly), so a running
/// activity's lock must be renewed: an activity four times longer than the timeout runs once, though a second host on
/// the same task hub is free to take it the moment its message shows again; and the renewals end with the host, so
/// an activity of a host that stopped runs again on another.
/// </summary>
public sealed class ActivityLockRenewalTests
{
    private static int _runs, _strandedRuns;
    /// <summary>Holds the first run of the stranded activity until the test ends.</summary>
    private static readonly TaskCompletionSource FirstRunHeld = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static Task<WebApplication> StartHostAsync(string prefix, int activities)
    {
        var settings = TestStorage.Settings(prefix);
        settings["DurableTask:VisibilityTimeoutSeconds"] = "2";
        settings["DurableTask:MaxConcurrentActivities"] = activities.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Added to the LocalHost worker's own task registry (what AddTasks configures).
        return LocalHostFixture.StartAsync(settings, b => b.Services.Configure<DurableTaskRegistry>(Microsoft.Extensions.Options.Options.DefaultName, r =>
        {
            r.AddOrchestratorFunc<int, int>("SlowOrchestration", (context, input) => context.CallActivityAsync<int>("SlowActivity", input));
            r.AddActivityFunc<int, int>("SlowActivity", async (_, input) =>
            {
                Interlocked.Increment(ref _runs);
                // Slow on purpose: four visibility timeouts.
                await Task.Delay(TimeSpan.FromSeconds(8));
                return input + 1;
            });
            r.AddOrchestratorFunc<int, int>("StrandedOrchestration", (context, input) => context.CallActivityAsync<int>("StrandedActivity", input));
            r.AddActivityFunc<int, int>("StrandedActivity", async (_, input) =>
            {
                if (Interlocked.Increment(ref _strandedRuns) == 1) await FirstRunHeld.Task;
                return input + 1;
            });
        }));
    }

    [Fact]
    public async Task An_activity_that_runs_longer_than_the_visibility_timeout_runs_once_across_hosts()
    {
        string prefix = TestStorage.NewPrefix();
        // Host A has one activity slot: once the activity runs there, only host B can take its message if it shows again.
        await using var a = await StartHostAsync(prefix, activities: 1);
        var client = a.Services.GetRequiredService<DurableTaskClient>();
        string id = await client.ScheduleNewOrchestrationInstanceAsync("SlowOrchestration", 41);
        await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref _runs)), runs => runs > 0, TimeSpan.FromSeconds(60), "the activity to start on host A");
        Assert.Equal(1, Volatile.Read(ref _runs));

        await using var b = await StartHostAsync(prefix, activities: 4);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var done = await client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        Assert.Equal(42, done.ReadOutputAs<int>());
        Assert.Equal(1, Volatile.Read(ref _runs));
        await b.StopAsync();
        await a.StopAsync();
    }

    [Fact]
    public async Task An_activity_of_a_host_that_stops_runs_again_on_another_host()
    {
        string prefix = TestStorage.NewPrefix();
        try
        {
            await using var a = await StartHostAsync(prefix, activities: 1);
            string id = await a.Services.GetRequiredService<DurableTaskClient>().ScheduleNewOrchestrationInstanceAsync("StrandedOrchestration", 6);
            await Poll.UntilAsync(() => Task.FromResult(Volatile.Read(ref _strandedRuns)), runs => runs == 1, TimeSpan.FromSeconds(60), "the activity to start on host A");
            // Host A stops while its run of the activity is held: that run never finishes.
            await a.StopAsync();

            await using var b = await StartHostAsync(prefix, activities: 4);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var done = await b.Services.GetRequiredService<DurableTaskClient>().WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);

            Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
            Assert.Equal(7, done.ReadOutputAs<int>());
            Assert.Equal(2, Volatile.Read(ref _strandedRuns));
            await b.StopAsync();
        }
        finally
        {
            FirstRunHeld.TrySetResult();
        }
    }
}
