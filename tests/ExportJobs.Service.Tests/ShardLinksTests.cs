using System.Text;
using System.Text.Json;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Service.Tests;

public class ShardLinksTests
{
    private static ReadOnlyMemory<byte> Record(string identityMap) => Encoding.UTF8.GetBytes($$"""{"identityMap":{{identityMap}},"v":1}""");

    [Fact]
    public async Task A_records_identities_are_linked_as_of_its_batch_and_its_place_in_it_read_from_profiles_and_events_before_and_after_compaction()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (4, 2)));
        var store = harness.Get<ProfileStore>();
        var tenant = harness.Tenant;
        // Batch 1 at 1,000: a login (cookie and CRM id), an email alone (no link), a CRM record of three identities.
        (Identity Primary, string Map)[] first =
        [
            (new("ECID", "c1"), """{"ECID":[{"id":"c1"}],"CRMID":[{"id":"x"}]}"""),
            (new("Email", "e1"), """{"Email":[{"id":"e1"}]}"""),
            (new("CRMID", "x"), """{"CRMID":[{"id":"x","primary":true}],"ECID":[{"id":"c2"}],"Email":[{"id":"e2"}]}"""),
        ];
        await store.WriteBatchAsync(FragmentKind.Profile, tenant, "crm", "b1", 1_000, first.Select(r => (r.Primary, Record(r.Map))), default);
        // Batch 2 at 2,000, ingested in chunks of one record: places go on from chunk to chunk.
        using (var writer = new ChunkedBatchWriter(store, FragmentKind.Profile, tenant, "web", "b2", 2_000, chunkBytes: 80, maxRecordBytes: 80))
        {
            await writer.AddAsync(new("ECID", "c1"), Record("""{"ECID":[{"id":"c1"}],"CRMID":[{"id":"y"}]}"""), default);
            await writer.AddAsync(new("ECID", "c9"), Record("""{"ECID":[{"id":"c9"}]}"""), default);
            await writer.AddAsync(new("ECID", "c2"), Record("""{"ECID":[{"id":"c2"}],"CRMID":[{"id":"x"}]}"""), default);
            await writer.CompleteAsync(default);
        }
        // An experience event links too.
        await store.WriteBatchAsync(FragmentKind.Event, tenant, "events", "b3", 3_000,
            [(new Identity("ECID", "c3"), Record("""{"ECID":[{"id":"c3"}],"CRMID":[{"id":"z"}]}"""))], default);

        string[] expected =
        [
            "CRMID:x-ECID:c1@1000#0", "CRMID:x-ECID:c2@1000#2", "CRMID:x-Email:e2@1000#2", "ECID:c2-Email:e2@1000#2",
            "CRMID:y-ECID:c1@2000#0", "CRMID:x-ECID:c2@2000#2", "CRMID:z-ECID:c3@3000#0",
        ];
        Assert.Equal(expected.Order(), await LinksAsync(harness, store));

        // Compaction keeps each record's place (the b2 chunks of one shard merged into one run).
        int merged = 0;
        for (int shard = 0; shard < 4; shard++) merged += (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.BeforeRead, default)).Merged;
        Assert.True(merged > 0);
        Assert.Equal(expected.Order(), await LinksAsync(harness, store));
    }

    private static async Task<List<string>> LinksAsync(ServiceHarness harness, ProfileStore store)
    {
        var links = new List<string>();
        var reader = new ShardLinks(store);
        for (int shard = 0; shard < store.ShardCount; shard++)
            await foreach (var link in reader.ReadAsync(harness.Tenant, shard, default))
                links.Add($"{link.A}-{link.B}@{link.IngestTimeMs}#{link.Order}");
        return [.. links.Order()];
    }
}
