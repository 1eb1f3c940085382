using System.Text;
using System.Text.Json;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Service.Tests;

/// <summary>
/// The distributed graph build on the Durable Task test host over Azurite, against the same rules applied in one
/// process to every link at once (<see cref="IdentityGraphs.Build"/>, tested on its own in Core).
/// </summary>
public class IdentityGraphBuildTests
{
    private const string Orchestration = "GraphBuildUnderTest";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    private static readonly IdentitySettings UniqueCrm = new() { NamespacePriority = ["CRMID", "Email", "ECID"], UniqueNamespaces = ["CRMID"] };

    [Theory]
    [InlineData(0L, 1L, 1L)]                    // a links activity per shard, the most partitions: links, labels and messages cross them
    [InlineData(1L << 30, 1L << 30, 1L << 30)]  // one activity, one partition
    [InlineData(0L, 1L, 1L << 30)]              // the most partitions of identities, one of components
    [InlineData(0L, 1L << 30, 1L)]              // one partition of identities, the most of components
    public async Task The_build_over_partitions_and_rounds_finds_the_graphs_the_rules_give_over_all_links_at_once(long groupBytes, long roundPartitionBytes, long partitionBytes)
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o =>
            (o.ShardCount, o.GraphRoundPartitionBytes, o.GraphPartitionBytes) = (8, roundPartitionBytes, partitionBytes)));
        var store = harness.Get<ProfileStore>();
        await harness.Get<IdentitySettingsStore>().PutAsync(harness.Tenant, UniqueCrm, null, default);

        var random = new Random(21);
        var records = new List<(Identity Primary, string[] Others)>();
        // People: a CRM id with an email, cookies linked to them, some cookies shared by two people.
        for (int p = 0; p < 60; p++)
        {
            records.Add((new("CRMID", $"crm{p}"), [$"Email:p{p}@example.com"]));
            for (int c = 0; c < random.Next(4); c++) records.Add((new("ECID", $"c{p}-{c}"), [$"CRMID:crm{p}"]));
            if (p % 7 == 0) records.Add((new("ECID", $"c{p}-0"), [$"CRMID:crm{(p + 1) % 60}"]));
        }
        // A chain of 20 cookies, each linked to the next: labels need about 20 rounds to cross it.
        for (int i = 0; i < 19; i++) records.Add((new("ECID", $"chain{i}"), [$"ECID:chain{i + 1}"]));
        // A star of 70 cookies on one CRM id: the cap keeps the newest 49.
        for (int i = 0; i < 70; i++) records.Add((new("ECID", $"star{i}"), ["CRMID:star"]));

        // Three batches, the records shuffled across them.
        var shuffled = records.OrderBy(_ => random.Next()).ToList();
        for (int b = 0; b < 3; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "web", $"b{b}", 1_000 * (b + 1),
                shuffled.Where((_, i) => i % 3 == b).Select(r => (r.Primary, Record(r.Primary, r.Others))), default);

        var expected = await ReferenceAsync(harness, store);
        Assert.Contains(expected.Graphs, g => g.Identities.Count == IdentityGraphs.MaxIdentities);
        Assert.Contains(expected.Graphs, g => g.Identities.Any(i => i.Id == "chain0") && g.Identities.Any(i => i.Id == "chain19"));

        string key = await BuildAsync(harness, groupBytes);
        var (map, graphs) = await ReadResultAsync(harness, key);
        Assert.Equal(expected.Map, map);
        Assert.Equal(expected.GraphRows, graphs);

        // A second build of the same data finds the first one whole and reuses it.
        Assert.Equal(key, await BuildAsync(harness, groupBytes));
        // The run's work container is gone with its files.
        var workContainers = new Azure.Storage.Blobs.BlobServiceClient(TestStorage.ConnectionString).GetBlobContainersAsync(prefix: StorageNames.Container(harness.Prefix, "graphwork-"));
        Assert.Empty(await workContainers.ToListAsync());
    }

    [Theory]
    [InlineData("ECID", "c1")]
    [InlineData("Email", "zoë@example.com")]
    [InlineData("CRMID", null)]   // an id longer than the fingerprint's stack buffer
    public void A_fingerprint_is_the_seeded_XxHash64_of_the_identity_key(string ns, string? id)
    {
        id ??= new string('x', 600);
        foreach (long seed in new[] { 0L, 1L, 2L })
        {
            long expected = (long)System.IO.Hashing.XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(IdentityKey.Of(ns, id)), seed);
            Assert.Equal(expected, IdentityGraphBuilder.Fingerprint(ns, id, seed));
            // As round 0 hashes it, the id's UTF-8 read in place from a links file.
            Assert.Equal(expected, IdentityGraphBuilder.Fingerprint(ns, Encoding.UTF8.GetBytes(id), seed));
        }
        Assert.NotEqual(IdentityGraphBuilder.Fingerprint(ns, id, 0), IdentityGraphBuilder.Fingerprint(ns, id, 1));
    }

    [Fact]
    public async Task A_component_wider_than_the_rounds_allow_fails_the_build_saying_so()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 2));
        var store = harness.Get<ProfileStore>();
        // Labels spread from the identity of the smallest fingerprint, wherever it is in the chain: twice the rounds
        // and more is too long from any place.
        var chain = Enumerable.Range(0, 2 * IdentityGraphBuilder.MaxRounds + 3)
            .Select(i => (new Identity("ECID", $"chain{i}"), Record(new("ECID", $"chain{i}"), [$"ECID:chain{i + 1}"])));
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "web", "b", 1_000, chain, default);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => BuildAsync(harness, 1L << 30));
        Assert.Contains($"more than {IdentityGraphBuilder.MaxRounds} links apart", failure.Message);
    }

    private static ReadOnlyMemory<byte> Record(Identity primary, string[] others)
    {
        var map = new StringBuilder($$"""{"{{primary.Namespace}}":[{"id":"{{primary.Id}}","primary":true}""");
        string ns = primary.Namespace;
        foreach (var other in others.Select(o => o.Split(':', 2)).OrderBy(o => o[0] == primary.Namespace ? 0 : 1))
        {
            if (other[0] != ns) map.Append($$"""],"{{other[0]}}":[""");
            else map.Append(',');
            map.Append($$"""{"id":"{{other[1]}}"}""");
            ns = other[0];
        }
        return Encoding.UTF8.GetBytes($$"""{"identityMap":{{map}}]},"v":1}""");
    }

    private sealed record Expected(List<IdentityGraph> Graphs, List<string> Map, List<string> GraphRows);

    private static async Task<Expected> ReferenceAsync(ServiceHarness harness, ProfileStore store)
    {
        var links = new List<IdentityLink>();
        var reader = new ShardLinks(store);
        for (int shard = 0; shard < store.ShardCount; shard++)
            await foreach (var link in reader.ReadAsync(harness.Tenant, shard, default)) links.Add(link);
        var graphs = IdentityGraphs.Build(links, [], UniqueCrm).Where(g => g.Identities.Count > 1).ToList();
        var map = graphs.SelectMany(g => g.Identities.Where(i => i != g.Primary).Select(i => Row(ShardRouter.ShardOf(i, store.ShardCount), i, g.Primary)));
        var rows = graphs.SelectMany(g => g.Identities.Select(i => Row(ShardRouter.ShardOf(g.Primary, store.ShardCount), i, g.Primary)));
        return new Expected(graphs, [.. map.Order(StringComparer.Ordinal)], [.. rows.Order(StringComparer.Ordinal)]);
    }

    private static string Row(int shard, Identity identity, Identity primary) => $"{shard} {identity} -> {primary}";

    /// <summary>
    /// The persisted result, each row with the shard folder it was found in; the tables an export loads of each shard
    /// (read in place from the files) hold the same rows.
    /// </summary>
    private static async Task<(List<string> Map, List<string> Graphs)> ReadResultAsync(ServiceHarness harness, string key)
    {
        var files = harness.Get<GraphFiles>().Build(harness.Tenant, key);
        var shuffle = harness.Get<GraphShuffle>();
        var map = new List<string>();
        var graphs = new List<string>();
        for (int shard = 0; shard < harness.Get<ProfileStore>().ShardCount; shard++)
        {
            var (stitched, moved) = await shuffle.TablesAsync(harness.Tenant, key, shard, default);
            using var graphTable = stitched;
            using var movedTable = moved;
            int pairs = 0, primaries = 0;
            await foreach (var row in files.ReadAsync<PairRow>(GraphFiles.Folder("", IdentityGraphBuilder.Map, shard), default))
            {
                map.Add(Row(shard, row.Identity, row.To));
                Assert.Equal(row.To, moved.PrimaryOf(row.Identity.Namespace, row.Identity.Id));
                pairs++;
            }
            await foreach (var row in files.ReadAsync<GraphRow>(GraphFiles.Folder("", IdentityGraphBuilder.Graph, shard), default))
            {
                graphs.AddRange(IdentitiesOf(RecordOf(row.Identities), row.Primary).Select(identity => Row(shard, identity, row.Primary)));
                Assert.True(stitched.TryGetValue(row.Primary.Namespace, row.Primary.Id, out var identities) && identities.Span.SequenceEqual(row.Identities));
                primaries++;
            }
            Assert.Equal((pairs, primaries), (moved.Count, stitched.Count));
        }
        return ([.. map.Order(StringComparer.Ordinal)], [.. graphs.Order(StringComparer.Ordinal)]);
    }

    /// <summary>The <c>identityMap</c> record an export writes of a graph's identities as its build keeps them.</summary>
    private static byte[] RecordOf(byte[] identities)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer)) GraphIdentities.WriteRecord(identities, writer);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The identities of an <c>identityMap</c> record, checking that its primary is the one marked.</summary>
    private static IEnumerable<Identity> IdentitiesOf(byte[] record, Identity primary)
    {
        var identities = new List<(Identity Identity, bool Primary)>();
        foreach (var ns in JsonDocument.Parse(record).RootElement.GetProperty("identityMap").EnumerateObject())
            foreach (var entry in ns.Value.EnumerateArray())
                identities.Add((new(ns.Name, entry.GetProperty("id").GetString()!), entry.TryGetProperty("primary", out var marked) && marked.GetBoolean()));
        Assert.Equal(primary, identities.Single(i => i.Primary).Identity);
        return identities.Select(i => i.Identity);
    }

    /// <summary>Runs a build to its end on the test host; its failure, if it fails, as an <see cref="InvalidOperationException"/> with its message.</summary>
    private static async Task<string> BuildAsync(ServiceHarness harness, long groupBytes)
    {
        await using var host = await DurableTestHost.StartAsync(registry =>
        {
            ExportWorkflow.Register(registry);
            registry.AddOrchestratorFunc<GraphBuildInput, string>(Orchestration, (context, input) => IdentityGraphBuild.RunAsync(context, input));
        }, new DurableTaskTestHostOptions { ConfigureServices = services => services.AddSingleton(harness.Get<IdentityGraphBuilder>()) });

        string id = await host.Client.ScheduleNewOrchestrationInstanceAsync(Orchestration,
            new GraphBuildInput(harness.Tenant.OrgId, harness.Tenant.Sandbox, "test", MaxParallel: 4, Attempts: 1, groupBytes));
        using var timeout = new CancellationTokenSource(Deadline);
        var done = await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
        if (done.RuntimeStatus != OrchestrationRuntimeStatus.Completed)
            throw new InvalidOperationException(done.FailureDetails?.ToString() ?? done.RuntimeStatus.ToString());
        return done.ReadOutputAs<string>()!;
    }
}
