using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;

namespace ExportJobs.Service.Tests;

public class ProfileStoreTests
{
    [Fact]
    public async Task A_shard_streams_in_identity_order_with_each_identitys_fragments_oldest_first()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<ProfileStore>();
        // Enough identities for several row groups per file, written newest batch first.
        var identities = Enumerable.Range(0, 24_000).Select(i => new Identity(i % 3 == 0 ? "email" : "ecid", $"id{i}")).ToList();
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batchnew", 2_000, identities.Select(id => (id, new JsonObject { ["v"] = "new" }.ToJsonString())), default);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batchold", 1_000, identities.Where((_, i) => i % 2 == 0).Select(id => (id, new JsonObject { ["v"] = "old" }.ToJsonString())), default);

        var shards = await store.ListShardsAsync(FragmentKind.Profile, harness.Tenant, default);
        Assert.Equal(identities.Select(id => ShardRouter.ShardOf(id, store.ShardCount)).Distinct().Order(), shards);
        Assert.Empty(await store.ListShardsAsync(FragmentKind.Event, harness.Tenant, default));

        var seen = new List<Identity>();
        foreach (int shard in shards)
        {
            string? previous = null;
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, shard, default))
            {
                string key = IdentityKey.Of(identity);
                Assert.True(previous is null || string.CompareOrdinal(previous, key) < 0, "identities come in key order, each once");
                previous = key;
                Assert.All(fragments, f => Assert.Equal(identity, f.Identity));
                Assert.Equal(shard, ShardRouter.ShardOf(identity, store.ShardCount));
                int index = int.Parse(identity.Id[2..]);
                Assert.Equal(index % 2 == 0 ? ["old", "new"] : ["new"], fragments.Select(f => (string)f.Record["v"]!));
                seen.Add(identity);
            }
        }
        Assert.Equal(identities.Select(IdentityKey.Of).Order(StringComparer.Ordinal), seen.Select(IdentityKey.Of).Order(StringComparer.Ordinal));
    }
}
