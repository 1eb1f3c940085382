using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

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

    private static IngestionWarmUp WarmUp(int seconds) =>
        new(Options.Create(new ExportStorageOptions { ShardCount = 8, WarmUpSeconds = seconds }), Options.Create(new ApiLimitsOptions()),
            NullLogger<IngestionWarmUp>.Instance);
}
