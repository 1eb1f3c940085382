using System.Net;
using System.Net.Http.Json;
using Azure.Data.Tables;
using ExportJobs.Service.Http;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// The watchdog purges the orchestrations that ended, on the Durable Task engine the LocalHost runs: an export's
/// orchestration stays within its retention and goes after it, its history with it, while its job still answers.
/// </summary>
public sealed class OrchestrationPurgeTests
{
    [Fact]
    public async Task An_ended_export_orchestration_is_purged_with_its_history_once_its_retention_has_passed_and_its_job_still_answers()
    {
        string prefix = TestStorage.NewPrefix();
        await using var app = await LocalHostFixture.StartAsync(TestStorage.Settings(prefix));
        using var client = LocalHostFixture.ClientOf(new Uri($"{app.Urls.Single()}/{Routes.Prefix}/"));
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        string profiles = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        await LocalHostFixture.PostLinesAsync(client, profiles, ["""{"identityMap":{"ecid":[{"id":"purged"}]}}"""], gzip: false);
        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
            new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
        long id = (long)created["id"]!;
        var job = await LocalHostFixture.WaitForJobAsync(client, id, s => s == "SUCCEEDED");
        string instance = (string)job["computeGatewayJobId"]!["exportJob"]!;

        var engine = app.Services.GetRequiredService<DurableTaskClient>();
        var options = app.Services.GetRequiredService<IOptions<WatchdogOptions>>();
        var history = new TableServiceClient(TestStorage.ConnectionString).GetTableClient($"hub{prefix}History");
        Task<int> HistoryRowsAsync() => CountAsync(history.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {instance}"), select: ["RowKey"]));
        // The job reads SUCCEEDED once its last activity has written it; its orchestration completes just after.
        using (var deadline = new CancellationTokenSource(LocalHostFixture.Deadline))
            Assert.Equal(OrchestrationRuntimeStatus.Completed, (await engine.WaitForInstanceCompletionAsync(instance, deadline.Token)).RuntimeStatus);
        Assert.True(await HistoryRowsAsync() > 0);

        // A watchdog run at a given time, with no jobs to look after: only its purge.
        Task<(int Redriven, int Failed, int Purged)> RunAtAsync(DateTimeOffset now) =>
            new JobWatchdog([], options, new FakeTimeProvider(now), NullLogger<JobWatchdog>.Instance).RunAsync(engine, default);
        var retention = TimeSpan.FromSeconds(options.Value.PurgeEndedAfterSeconds);

        Assert.Equal((0, 0, 0), await RunAtAsync(DateTimeOffset.UtcNow + retention - TimeSpan.FromMinutes(10)));
        Assert.NotNull(await engine.GetInstanceAsync(instance));

        var (_, _, purged) = await RunAtAsync(DateTimeOffset.UtcNow + retention + TimeSpan.FromMinutes(1));
        Assert.InRange(purged, 1, 2); // the export's orchestration, and the tenant's compaction if it has ended
        Assert.Null(await engine.GetInstanceAsync(instance));
        Assert.Equal(0, await HistoryRowsAsync());

        var after = await LocalHostFixture.ReadAsync(await client.GetAsync($"export/jobs/{id}"), HttpStatusCode.OK);
        Assert.Equal("SUCCEEDED", (string)after["status"]!);
        Assert.Equal(1, (long)after["metrics"]!["totalExportedProfileCounter"]!);
        await app.StopAsync();
    }

    // Not the runtime's AsyncEnumerable.CountAsync: System.Linq.Async, which the Durable Task Azure Storage backend brings, makes it ambiguous here.
    private static async Task<int> CountAsync<T>(IAsyncEnumerable<T> items)
    {
        int count = 0;
        await foreach (var _ in items) count++;
        return count;
    }
}
