using Azure.Data.Tables;
using ExportJobs.LocalHost;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// Two LocalHosts on one task hub (one machine, one process) share its control-queue partitions, and a host that stops
/// hands its partitions back: orchestrations started after it stopped all run on the host that is left.
/// </summary>
public sealed class TaskHubPartitionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private static Task<WebApplication> StartHostAsync(string prefix) =>
        LocalHostFixture.StartAsync(TestStorage.Settings(prefix), b => b.Services.Configure<DurableTaskRegistry>(Microsoft.Extensions.Options.Options.DefaultName,
            r => r.AddOrchestratorFunc<int, int>("Increment", (_, input) => Task.FromResult(input + 1))));

    private static async Task<List<(string? Owner, string? Next)>> PartitionsAsync(string prefix)
    {
        var table = new TableServiceClient(TestStorage.ConnectionString).GetTableClient($"hub{prefix}Partitions");
        var rows = new List<(string?, string?)>();
        await foreach (var row in table.QueryAsync<TableEntity>()) rows.Add((row.GetString("CurrentOwner"), row.GetString("NextOwner")));
        return rows;
    }

    private static Task<List<(string? Owner, string? Next)>> UntilOwnedAsync(string prefix, Func<List<(string? Owner, string? Next)>, bool> done, string what) =>
        Poll.UntilAsync(() => PartitionsAsync(prefix), rows => rows.Count == 4 && rows.All(r => r.Next is null) && done(rows), Deadline, what);

    [Fact]
    public async Task Two_hosts_share_the_partitions_and_a_host_that_stops_hands_its_own_back()
    {
        string prefix = TestStorage.NewPrefix();
        await using var a = await StartHostAsync(prefix);
        string first = a.Services.GetRequiredService<DurableSidecar>().WorkerId;
        await UntilOwnedAsync(prefix, rows => rows.All(r => r.Owner == first), "the first host to own all four partitions");

        await using var b = await StartHostAsync(prefix);
        string second = b.Services.GetRequiredService<DurableSidecar>().WorkerId;
        Assert.NotEqual(first, second);
        await UntilOwnedAsync(prefix, rows => rows.Count(r => r.Owner == first) == 2 && rows.Count(r => r.Owner == second) == 2,
            "the two hosts to own two partitions each");

        await b.StopAsync();
        Assert.DoesNotContain(await PartitionsAsync(prefix), r => r.Owner == second);
        await UntilOwnedAsync(prefix, rows => rows.All(r => r.Owner == first), "the first host to own all four partitions again");

        var client = a.Services.GetRequiredService<DurableTaskClient>();
        var ids = new List<string>();
        for (int i = 0; i < 12; i++) ids.Add(await client.ScheduleNewOrchestrationInstanceAsync("Increment", i));
        using var timeout = new CancellationTokenSource(Deadline);
        for (int i = 0; i < ids.Count; i++)
        {
            var done = await client.WaitForInstanceCompletionAsync(ids[i], getInputsAndOutputs: true, timeout.Token);
            Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
            Assert.Equal(i + 1, done.ReadOutputAs<int>());
        }
        await a.StopAsync();
    }
}
