using Azure.Core.Pipeline;
using Azure.Data.Tables;
using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;

namespace ExportJobs.Service.Tests;

public sealed class IngestionWarmUpTests
{
    [Fact]
    public async Task A_round_accepts_every_generated_line_of_each_dataset_and_encodes_a_section_a_shard()
    {
        var round = await WarmUp(seconds: 10).RoundAsync(CancellationToken.None);

        // A dataset with a schema, one without, one of events: were a reader to reject the lines, the round would warm up the rejections.
        Assert.Equal(["warm-schema", "warm-plain", "warm-events"], round.Select(r => r.Dataset));
        Assert.All(round, r => Assert.Equal((IngestionWarmUp.Lines, 8), (r.Accepted, r.Sections)));
    }

    [Fact]
    public async Task Starting_runs_rounds_until_they_compile_little_and_none_when_off()
    {
        var on = WarmUp(seconds: 60);
        var off = WarmUp(seconds: 0);

        await on.StartAsync(CancellationToken.None);
        await off.StartAsync(CancellationToken.None);

        Assert.True(on.Done);
        Assert.InRange(on.Rounds, 4, int.MaxValue);
        Assert.True(off.Done);
        Assert.Equal(0, off.Rounds);
    }

    [Fact]
    public async Task A_warm_up_that_fails_is_logged_and_the_host_starts_all_the_same()
    {
        // No shard to route a record to: the first round fails (the options' validation keeps a host from being configured so).
        var logs = new LogCapture();
        using var loggers = new LoggerFactory([logs]);
        var failing = WarmUp(seconds: 60, shards: 0, loggers.CreateLogger<IngestionWarmUp>());

        await failing.StartAsync(CancellationToken.None);

        Assert.True(failing.Done);
        Assert.Equal(0, failing.Rounds);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("warm-up failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_round_through_the_clients_makes_ingestions_requests_and_they_change_nothing()
    {
        var taskHub = new Mock<DurableTaskClient>("warm-up");
        var blobRequests = new CountRequests();
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton(taskHub.Object).AddSingleton<HttpPipelinePolicy>(blobRequests));
        var clients = harness.Get<StorageClients>();
        int blobRequestsBefore = blobRequests.Count;

        int requests = await harness.Get<IngestionWarmUp>().ClientRoundAsync(CancellationToken.None);

        Assert.Equal(IngestionWarmUp.ClientCalls * 5, requests);
        // An upload and a listing each time; the upload was refused.
        Assert.Equal(IngestionWarmUp.ClientCalls * 2, blobRequests.Count - blobRequestsBefore);
        taskHub.Verify(c => c.GetInstanceAsync(IngestionWarmUp.WarmUpKey, true, It.IsAny<CancellationToken>()), Times.Exactly(IngestionWarmUp.ClientCalls));
        Assert.Empty(await clients.Profiles.GetBlobsAsync().ToListAsync());
        Assert.Empty(await clients.Batches.QueryAsync<TableEntity>().ToListAsync());
        Assert.Empty(await clients.Datasets.QueryAsync<TableEntity>().ToListAsync());
    }

    private static IngestionWarmUp WarmUp(int seconds, int shards = 8, ILogger<IngestionWarmUp>? log = null) =>
        new(Options.Create(new ExportStorageOptions { ShardCount = shards, WarmUpSeconds = seconds }), Options.Create(new ApiLimitsOptions()),
            log ?? NullLogger<IngestionWarmUp>.Instance);
}
