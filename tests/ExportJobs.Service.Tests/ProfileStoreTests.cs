using ExportJobs.TestSupport;
using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Tests;

public class ProfileStoreTests
{
    [Fact]
    public async Task Fragments_are_sharded_by_identity_and_read_back_oldest_first()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<ProfileStore>();
        var identities = Enumerable.Range(0, 200).Select(i => new Identity("ecid", i.ToString())).ToList();
        await store.WriteBatchAsync(harness.Tenant, "ds", "batchnew", 2_000, identities.Select(id => (id, new JsonObject { ["v"] = "new" })), default);
        await store.WriteBatchAsync(harness.Tenant, "ds", "batchold", 1_000, identities.Select(id => (id, new JsonObject { ["v"] = "old" })), default);

        var shards = await store.ListShardsAsync(harness.Tenant, default);
        Assert.Equal(identities.Select(id => ShardRouter.ShardOf(id, store.ShardCount)).Distinct().Order(), shards);

        var read = new List<ProfileFragment>();
        foreach (int shard in shards)
            await foreach (var fragment in store.ReadShardAsync(harness.Tenant, shard, default))
            {
                Assert.Equal(shard, ShardRouter.ShardOf(fragment.Identity, store.ShardCount));
                read.Add(fragment);
            }

        Assert.Equal(400, read.Count);
        foreach (var byIdentity in read.GroupBy(f => f.Identity))
            Assert.Equal(["old", "new"], byIdentity.Select(f => (string)f.Record["v"]!));
    }
}
