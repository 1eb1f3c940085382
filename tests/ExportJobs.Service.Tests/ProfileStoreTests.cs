using System.Text;
using System.Text.Json.Nodes;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Moq;

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
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batchnew", 2_000, identities.Select(id => (id, Utf8(new JsonObject { ["v"] = "new" }))), default);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batchold", 1_000, identities.Where((_, i) => i % 2 == 0).Select(id => (id, Utf8(new JsonObject { ["v"] = "old" }))), default);

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
                Assert.Equal(index % 2 == 0 ? ["old", "new"] : ["new"], fragments.Select(f => f.Record.GetProperty("v").GetString()));
                seen.Add(identity);
            }
        }
        Assert.Equal(identities.Select(IdentityKey.Of).Order(StringComparer.Ordinal), seen.Select(IdentityKey.Of).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Runs_merge_ids_that_sort_otherwise_as_UTF_8_in_the_order_of_their_strings()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<ProfileStore>();
        // U+FF21 sorts after the supplementary planes as UTF-16 strings, before them as UTF-8; the second run holds every third id.
        var identities = Enumerable.Range(0, 400).Select(i => new Identity("email", (i % 2 == 0 ? "\uFF21" : "\U0001F600") + i)).ToList();
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batch1", 1_000, identities.Select(id => (id, Utf8(new JsonObject { ["v"] = "1" }))), default);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "batch2", 2_000, identities.Where((_, i) => i % 3 == 0).Select(id => (id, Utf8(new JsonObject { ["v"] = "2" }))), default);

        var seen = new List<Identity>();
        foreach (int shard in await store.ListShardsAsync(FragmentKind.Profile, harness.Tenant, default))
        {
            string? previous = null;
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, shard, default))
            {
                string key = IdentityKey.Of(identity);
                Assert.True(previous is null || string.CompareOrdinal(previous, key) < 0, $"identities come in key order, each once: {previous} then {key}");
                previous = key;
                Assert.Equal(identities.IndexOf(identity) % 3 == 0 ? ["1", "2"] : ["1"], fragments.Select(f => f.Record.GetProperty("v").GetString()));
                seen.Add(identity);
            }
        }
        Assert.Equal(identities.Count, seen.Count);
    }

    [Fact]
    public async Task A_chunk_is_one_file_of_every_shards_sections_deleted_once_each_of_them_is_covered()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 2, maxShardFiles: 16);
        var (store, compactor, tenant) = (harness.Get<ProfileStore>(), harness.Get<ShardCompactor>(), harness.Tenant);
        await WriteBatchesAsync(store, tenant, 3);
        var before = await ReadAllAsync(store, tenant);
        Assert.Equal(1_200, before.Count);

        // A chunk file a batch, with a section for each shard; the shards' folders hold nothing.
        var chunks = await ChunkFilesAsync(harness);
        Assert.Equal(3, chunks.Count);
        foreach (int shard in new[] { 0, 1 })
            Assert.Equal(3, (await store.ListRunsAsync(FragmentKind.Profile, tenant, shard, default)).Live.Count(r => r.InChunk));
        var folders = new List<string>();
        await foreach (var blob in harness.Get<StorageClients>().Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = $"{tenant.BlobPrefix}/shard-" }))
            folders.Add(blob.Name);
        Assert.Empty(folders);

        // Within the covered runs' grace of their writing, background compaction leaves runs in chunk files as they are
        // when the shard is under its bound. Past it, shard 0's are merged whatever their number, shard 1's not yet:
        // every chunk file holds a run shard 1 reads, so none goes, and the reads are as before.
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(default, await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        clock.Advance(ShardCompactor.CoveredGrace);
        Assert.Equal(3, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default)).Merged);
        Assert.Equal(new ShardCompaction(0, false, CoveredKept: true), await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Equal(chunks, await ChunkFilesAsync(harness));
        Assert.Equal(before, await ReadAllAsync(store, tenant));

        // Once shard 1's are merged too, the next pass deletes the chunk files (no job runs), then nothing is covered.
        Assert.Equal(3, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 1, CompactionTrigger.Background, default)).Merged);
        Assert.Equal(new ShardCompaction(0, false, false), await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Empty(await ChunkFilesAsync(harness));
        Assert.Equal(new ShardCompaction(0, false, false), await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 1, CompactionTrigger.Background, default));
        Assert.Equal(before, await ReadAllAsync(store, tenant));

        // A batch that is not kept deletes its chunk files.
        await store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", "dropped", 5_000, BatchIdentities.Select(id => (id, Utf8(new JsonObject { ["b"] = "dropped" }))), default);
        Assert.Single(await ChunkFilesAsync(harness));
        await store.DeleteChunksAsync(FragmentKind.Profile, tenant, "dropped", 5_000, 1, default);
        Assert.Empty(await ChunkFilesAsync(harness));
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task A_pass_that_merges_a_shard_over_its_bound_takes_its_other_runs_in_chunk_files_so_the_chunk_files_go_within_the_grace()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 2, maxShardFiles: 8);
        var (store, compactor, tenant) = (harness.Get<ProfileStore>(), harness.Get<ShardCompactor>(), harness.Tenant);
        await WriteBatchesAsync(store, tenant, 5);
        var before = await ReadAllAsync(store, tenant);
        Assert.True(compactor.SettledShardRuns < 5, $"bound {compactor.SettledShardRuns}");

        // Within the grace: each shard, over its bound, is merged down to it, and its runs left in chunk files with it.
        clock.Advance(TimeSpan.FromMinutes(1));
        foreach (int shard in new[] { 0, 1 })
        {
            Assert.Equal(5, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.Background, default)).Merged);
            Assert.DoesNotContain((await store.ListRunsAsync(FragmentKind.Profile, tenant, shard, default)).Live, r => r.InChunk);
        }
        Assert.Equal(5, (await ChunkFilesAsync(harness)).Count);

        // So every section is covered, and the next pass (no job runs) deletes every chunk file.
        Assert.Equal(new ShardCompaction(0, false, false), await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Empty(await ChunkFilesAsync(harness));
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task A_chunk_of_more_shards_than_a_chunk_files_metadata_lists_is_written_a_file_per_shard()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 300));
        var store = harness.Get<ProfileStore>();
        var identities = Enumerable.Range(0, 3_000).Select(i => new Identity("email", $"u{i}")).ToList();
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "wide", 1_000, identities.Select(id => (id, Utf8(new JsonObject { ["id"] = id.Id }))), default);

        Assert.Empty(await ChunkFilesAsync(harness));
        var shards = await store.ListShardsAsync(FragmentKind.Profile, harness.Tenant, default);
        Assert.True(shards.Count > 256, $"{shards.Count} shards");
        var read = new List<string>();
        foreach (int shard in shards)
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, shard, default))
                read.AddRange(fragments.Select(f => f.Record.GetProperty("id").GetString()!));
        Assert.Equal(identities.Select(id => id.Id).Order(), read.Order());
    }

    [Fact]
    public async Task A_pass_whose_chunk_files_another_shards_pass_deleted_since_its_listing_counts_their_runs_gone()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // Another shard's pass deletes the chunk files between this pass's listing of its shard and its look at the tenant's.
        var jobs = new Mock<IShardReadingJobs>();
        await using var harness = await ClockedHarnessAsync(clock, shards: 2, maxShardFiles: 16, jobs.Object);
        var (store, compactor, tenant) = (harness.Get<ProfileStore>(), harness.Get<ShardCompactor>(), harness.Tenant);
        await WriteBatchesAsync(store, tenant, 3);
        var before = await ReadAllAsync(store, tenant);
        clock.Advance(ShardCompactor.CoveredGrace + TimeSpan.FromMinutes(1));
        foreach (int shard in new[] { 0, 1 })
            Assert.Equal(3, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.Background, default)).Merged);
        var chunks = await ChunkFilesAsync(harness);
        Assert.Equal(3, chunks.Count);
        jobs.Setup(j => j.AnyRunningAsync(tenant, It.IsAny<CancellationToken>())).Returns(async () =>
        {
            foreach (string chunk in chunks) await harness.Get<StorageClients>().Profiles.GetBlobClient(chunk).DeleteIfExistsAsync();
            return false;
        });

        Assert.Equal(new ShardCompaction(0, false, false), await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Empty((await store.ListRunsAsync(FragmentKind.Profile, tenant, 0, default)).Covered);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task An_identity_whose_rows_in_one_run_fill_several_row_groups_is_read_whole_with_and_without_a_prefilter()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        var store = harness.Get<ProfileStore>();
        // Each batch's file: u0 and u1's first rows in its first row group, u1's alone in the second, u1's last and u2 in
        // the third. A read holds rows in place in two groups of a run at most.
        int many = FragmentColumns.RowGroupSize * 2 + FragmentColumns.RowGroupSize / 2;
        var counts = new[] { ("u0", 1), ("u1", many), ("u2", 1) };
        static ReadOnlyMemory<byte> Record(string batch, int n) =>
            Encoding.UTF8.GetBytes("""{"segmentMembership":{"ups":{"s1":{"status":"realized"}}},"name":""" + $"\"{batch}-{n}\"}}");
        foreach (var (batch, time) in new[] { ("b1", 1_000L), ("b2", 2_000L) })
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", batch, time,
                counts.SelectMany(c => Enumerable.Range(0, c.Item2).Select(n => (new Identity("email", c.Item1), Record(batch, n)))), default);
        var expected = counts.SelectMany(c => new[] { "b1", "b2" }.SelectMany(batch => Enumerable.Range(0, c.Item2).Select(n => $"{c.Item1}:{batch}-{n}"))).ToList();

        var selection = new Core.Jobs.ExportSelection(new Core.Jobs.JobFilter { Segments = [new Core.Jobs.SegmentSelector { SegmentId = "s1" }] });
        var index = new IndexedSegmentFilter(selection, MergeRule.TimestampOrdered);
        var members = new MemberSelection(new HashSet<string> { "name", Core.Jobs.ExportSelection.SegmentMembership }, Indexed: Core.Jobs.ExportSelection.SegmentMembership);
        foreach (var prefilter in new[] { null, new MemberPrefilter(Core.Jobs.ExportSelection.SegmentMembership, selection.CouldQualify, index) })
        {
            var read = new List<string>();
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: members, prefilter: prefilter))
                read.AddRange(fragments.Select(f => $"{identity.Id}:{f.Record.GetProperty("name").GetString()}"));
            Assert.Equal(expected, read);
            if (prefilter is not null) Assert.NotNull(index.DecidedFor(new Identity("email", "u2")));
        }
    }

    [Fact]
    public async Task Records_read_to_be_merged_leave_out_the_members_repeated_from_the_record_before_and_merge_as_the_records_whole()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        var store = harness.Get<ProfileStore>();
        const string m = """{"email":[{"id":"a@example.com","primary":true}]}""", n = """{"ecid":[{"id":"1"}]}""";
        string many = "{" + string.Concat(Enumerable.Range(0, RepeatedMembers.TrackedNames).Select(i => $"\"f{i}\":{i},")) + $"\"identityMap\":{m}}}";
        // By identity, its record in each batch (none where null): b3 and b4 were ingested at the same time.
        var batches = new[] { ("dsA", "b1", 1_000L), ("dsB", "b2", 2_000L), ("dsC", "b3", 3_000L), ("dsA", "b4", 3_000L) };
        var records = new Dictionary<string, string?[]>
        {
            // u0's members come in the order of the record the merge folds first, whichever keeps its map.
            ["u0"] = [$$$"""{"a":1,"identityMap":{{{m}}}}""", $$$"""{"identityMap":{{{m}}},"b":2}""", $$$"""{"identityMap":{{{m}}}}""", null],
            ["u1"] = [$$$"""{"identityMap":{{{m}}}}""", $$$"""{"identityMap":{{{n}}}}""", $$$"""{"identityMap":{{{m}}}}""", null],
            ["u2"] = [$$$"""{"identityMap":{{{m}}},"x":{"p":1}}""", """{"identityMap":null,"x":{"p":1}}""", """{"identityMap":null,"x":{"q":2}}""", null],
            // A record kept whole (a repeated name) between two that repeat the member: nothing is left out after it.
            ["u3"] = [$$$"""{"identityMap":{{{m}}}}""", $$$"""{"identityMap":{{{m}}},"k":1,"k":2}""", $$$"""{"identityMap":{{{m}}}}""", null],
            ["u4"] = [null, null, $$$"""{"identityMap":{{{m}}},"c":{"y":1}}""", $$$"""{"c":{"y":1},"identityMap":{{{m}}}}"""],
            // More names than are followed before the map: it is kept, as the names after the first ones are.
            ["u5"] = [many, many, null, null],
        };
        for (int b = 0; b < batches.Length; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, batches[b].Item1, batches[b].Item2, batches[b].Item3,
                records.Where(r => r.Value[b] is not null).Select(r => (new Identity("email", r.Key), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Value[b]!))), default);

        var rules = new[] { MergeRule.TimestampOrdered, MergeRule.Of(new Core.MergePolicies.AttributeMerge { Type = Core.MergePolicies.MergePolicyRules.DataSetPrecedence, Order = ["dsC", "dsA"] }) };
        foreach (var rule in rules)
        {
            var whole = new List<string>();
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
                whole.Add($"{identity.Id} {rule.Merge(identity, fragments).Value.ToJsonString()}");
            var merged = new List<string>();
            var holding = new List<string>();
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, mergedBy: rule))
            {
                holding.Add($"{identity.Id}:{fragments.Count(f => f.Record.TryGetProperty("identityMap", out _))}");
                merged.Add($"{identity.Id} {rule.Merge(identity, fragments).Value.ToJsonString()}");
            }
            Assert.Equal(6, whole.Count);
            Assert.Equal(whole, merged);
            // Oldest first, u2's second null is left out, and u3's last map follows a record kept whole. By precedence (b2 of
            // dsB folded first, then dsA's b1 and b4, then dsC's b3): u0 keeps b2's map, u1's and u3's last map repeats b1's,
            // u2's nulls are apart, and u4's b3 repeats b4.
            Assert.Equal(rule == MergeRule.TimestampOrdered ? ["u0:1", "u1:3", "u2:2", "u3:3", "u4:1", "u5:2"] : ["u0:1", "u1:2", "u2:3", "u3:2", "u4:1", "u5:2"], holding);
        }
    }

    [Fact]
    public async Task Random_records_read_to_be_merged_merge_as_the_records_whole_by_either_rule_before_and_after_compaction()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 4)));
        var store = harness.Get<ProfileStore>();
        var random = new Random(74);
        // Few texts per member, so that records repeat each other's often; nulls, arrays and nested objects among them.
        string[][] texts =
        [
            ["""{"email":[{"id":"a"}]}""", """{"email":[{"id":"b"}],"ecid":[{"id":"1"}]}""", "null"],
            ["""{"x":1,"y":{"z":2}}""", """{"y":{"w":3}}""", """{"x":null}""", "[1,2]", "7"],
            ["\"s\"", "null", """{"p":{"q":[1]}}"""],
            ["""{"ups":{"s1":{"status":"realized"}}}""", """{"ups":{"s2":{"status":"exited"}}}"""],
        ];
        string[] names = ["identityMap", "a", "b", "segmentMembership"];
        string Record()
        {
            var members = Enumerable.Range(0, names.Length).Where(_ => random.Next(3) > 0).OrderBy(_ => random.Next())
                .Select(m => $"\"{names[m]}\":{texts[m][random.Next(texts[m].Length)]}").ToList();
            // Now and then a record kept whole: a name repeated.
            if (members.Count > 0 && random.Next(12) == 0) members.Add(members[0]);
            return "{" + string.Join(",", members) + "}";
        }
        var batches = new[] { ("dsA", 1_000L), ("dsB", 2_000L), ("dsC", 2_000L), ("dsA", 3_000L), ("dsB", 3_000L), ("dsC", 4_000L), ("dsA", 4_000L) };
        for (int b = 0; b < batches.Length; b++)
        {
            var records = Enumerable.Range(0, 400).Where(_ => random.Next(3) > 0)
                .SelectMany(i => Enumerable.Range(0, random.Next(4) == 0 ? 2 : 1).Select(_ => (new Identity("email", $"u{i:D3}"), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(Record()))))
                .ToList();
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, batches[b].Item1, $"b{b}", batches[b].Item2, records, default);
        }

        var rules = new[] { MergeRule.TimestampOrdered, MergeRule.Of(new Core.MergePolicies.AttributeMerge { Type = Core.MergePolicies.MergePolicyRules.DataSetPrecedence, Order = ["dsB", "dsA"] }) };
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var rule in rules)
            {
                var whole = new List<string>();
                int members = 0, read = 0;
                await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
                {
                    whole.Add($"{identity.Id} {rule.Merge(identity, fragments).Value.ToJsonString()}");
                    members += fragments.Sum(f => f.Record.EnumerateObject().Count());
                }
                var merged = new List<string>();
                await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, mergedBy: rule))
                {
                    merged.Add($"{identity.Id} {rule.Merge(identity, fragments).Value.ToJsonString()}");
                    read += fragments.Sum(f => f.Record.EnumerateObject().Count());
                }
                Assert.True(whole.Count > 350);
                Assert.Equal(whole, merged);
                Assert.InRange(read, members / 2, members * 9 / 10);
            }
            if (pass == 0) Assert.True((await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged > 0);
        }
    }

    [Fact]
    public async Task Compaction_bounds_a_shards_files_and_the_shard_reads_exactly_as_before()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 2, maxShardFiles: 4);
        var store = harness.Get<ProfileStore>();
        var tenant = harness.Tenant;
        // 20 batches over overlapping identities (each identity in several), two of them at the same ingest time.
        for (int b = 0; b < 20; b++)
        {
            var identities = Enumerable.Range(0, 300).Where(i => i % (b % 4 + 1) == 0).Select(i => new Identity("email", $"u{i}"));
            await store.WriteBatchAsync(FragmentKind.Profile, tenant, $"ds{b % 3}", $"batch{b:D2}", 1_000 + Math.Min(b, 18),
                identities.Select(id => (id, Utf8(new JsonObject { ["batch"] = b, ["id"] = id.Id }))), default);
        }
        string membership = ProfileStore.KeptApartBatchPrefix + "42";
        await using (var writer = store.OpenShardWriter(FragmentKind.Profile, tenant, 0, "_segmentation", membership, 5_000, ["member"]))
        {
            await writer.AddAsync(new Identity("email", "u0"), Utf8(new JsonObject { ["member"] = true }), default);
            await writer.CompleteAsync(default);
        }
        var before = await ReadAllAsync(store, tenant);

        foreach (int shard in new[] { 0, 1 })
            Assert.True((await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.BeforeRead, default)).Merged >= 16);

        Assert.Equal(before, await ReadAllAsync(store, tenant));
        Assert.Equal(before.Where(f => !f.Contains(membership)), await ReadAllAsync(store, tenant, membership));
        // The live runs of the tenant, from one listing, are each shard's runs a read merges, less the memberships kept
        // apart; the shards' bytes from that listing are those a listing of the shards gives.
        var (live, sizes) = await store.ListLiveRunsAsync(FragmentKind.Profile, tenant, default);
        Assert.Equal(await store.ListShardSizesAsync(FragmentKind.Profile, tenant, default), sizes);
        var perShard = new List<string>();
        foreach (int shard in new[] { 0, 1 })
            perShard.AddRange((await store.RunsToReadAsync(FragmentKind.Profile, tenant, shard, null, default)).Where(r => !r.KeptApart).Select(r => r.Name));
        Assert.Equal(perShard, live);
        Assert.InRange(live.Count, 2, 8);
        Assert.DoesNotContain(live, name => name.Contains(membership, StringComparison.Ordinal));
        // The covered files stay for reads that listed them; background compaction deletes them once past the grace.
        Assert.True((await FilesAsync(harness, 0)).Count > 20);
        // With nothing to merge nor delete yet, a read does not take the shard's lease: it goes on while another holds it.
        var foreign = harness.Get<StorageClients>().Profiles.GetBlobClient($"{tenant.BlobPrefix}/shard-0000.lock").GetBlobLeaseClient();
        await foreign.AcquireAsync(TimeSpan.FromSeconds(60));
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            Assert.Equal(default, await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, deadline.Token));
        await foreign.ReleaseAsync();
        // Past the grace, reads leave them to background compaction: deleting them would keep a read from its rows.
        clock.Advance(TimeSpan.FromMinutes(16));
        Assert.Equal(default, await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default));
        Assert.True((await FilesAsync(harness, 0)).Count > 20);
        // Left for much longer (that pass was lost), a read still leaves them: they are runs in chunk files, which only
        // background compaction deletes, a whole file once every section of it may go.
        clock.Advance(ShardCompactor.ReadDeletesAfter - ShardCompactor.CoveredGrace);
        var compactor = harness.Get<ShardCompactor>();
        Assert.Equal(0, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        Assert.True((await FilesAsync(harness, 0)).Count > 20);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
        // Background compaction (no job runs) deletes the chunk files all of whose sections are covered, and merges the
        // runs left in chunk files into runs of the shard's folder.
        foreach (int shard in new[] { 0, 1 })
            Assert.True((await compactor.CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.Background, default)).Merged > 0);
        var listed = await store.ListRunsAsync(FragmentKind.Profile, tenant, 0, default);
        Assert.DoesNotContain(listed.Live, r => r.InChunk);
        var chunks = await ChunkFilesAsync(harness);
        Assert.InRange(chunks.Count, 1, 19);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
        // Past their time, a read deletes the covered runs of the shard's folder; not those covering runs still in chunk files.
        var coveredOfFolder = listed.Covered.Where(r => !r.InChunk).Select(r => r.Name).ToList();
        Assert.NotEmpty(coveredOfFolder);
        Assert.Equal(0, (await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        var afterRead = await store.ListRunsAsync(FragmentKind.Profile, tenant, 0, default);
        Assert.All(afterRead.Covered.Where(r => !r.InChunk), r => Assert.Contains(r.Covers, c => afterRead.Covered.Any(s => s.InChunk && s.Name == c)));
        Assert.True(afterRead.Covered.Count(r => !r.InChunk) < coveredOfFolder.Count);
        Assert.Equal(chunks, await ChunkFilesAsync(harness));
        Assert.Equal(before, await ReadAllAsync(store, tenant));
        // The next background pass deletes the chunk files left, then the runs that covered them.
        foreach (int shard in new[] { 0, 1 })
            Assert.Equal(default, await compactor.CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.Background, default));
        Assert.Empty(await ChunkFilesAsync(harness));
        var files = await FilesAsync(harness, 0);
        Assert.InRange(files.Count, 2, 4);
        Assert.Single(files, f => f.EndsWith($"-{membership}.parquet", StringComparison.Ordinal));
        Assert.Equal(before, await ReadAllAsync(store, tenant));

        // A job's membership file is still deleted by its batch, compacted or not.
        Assert.Equal(1, await store.DeleteBatchAsync(FragmentKind.Profile, tenant, membership, default));
        Assert.Equal(before.Where(f => !f.Contains(membership)), await ReadAllAsync(store, tenant));
    }

    /// <summary>
    /// A shard read (<see cref="ShardProfiles"/>) lists its shard once when there is nothing to compact: the runs the
    /// compaction's check listed are those it reads. Over the bound, it reads the runs the compaction before it left.
    /// </summary>
    [Fact]
    public async Task A_shard_read_lists_its_shard_once_and_reads_what_the_compaction_before_it_left()
    {
        var listings = new BlobListings();
        await using var harness = await ServiceHarness.StartAsync(s => s
            .AddSingleton<HttpPipelinePolicy>(listings)
            .Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 4)));
        var store = harness.Get<ProfileStore>();
        // Batch b holds every (b % 3 + 1)th identity, with its number as member m{b}.
        static bool Holds(int batch, int i) => i % (batch % 3 + 1) == 0;
        async Task WriteAsync(int batch) => await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", $"batch{batch}", 1_000 + batch,
            Enumerable.Range(0, 50).Where(i => Holds(batch, i)).Select(i => (new Identity("email", $"u{i:D2}"), Utf8(new JsonObject { ["b"] = batch, [$"m{batch}"] = i }))), default);
        static JsonObject Merged(int batches, int i)
        {
            var merged = new JsonObject();
            for (int b = 0; b < batches; b++)
                if (Holds(b, i)) (merged["b"], merged[$"m{b}"]) = (b, i);
            return merged;
        }
        var reading = new ShardReading(MergeRule.TimestampOrdered, null, null, 0, WithEvents: false, EmptyProfiles: false, Members: null);
        async Task AssertReadAsync(int batches)
        {
            // A profile is valid until the next is read.
            var read = new List<(string Id, JsonObject Attributes)>();
            await foreach (var profile in harness.Get<ShardProfiles>().ReadAsync(harness.Tenant, 0, reading, default))
                read.Add((profile.Identity.Id, profile.Profile.Value.ToNode().AsObject()));
            Assert.Equal(Enumerable.Range(0, 50).Select(i => $"u{i:D2}"), read.Select(p => p.Id));
            Assert.All(read, p => Assert.True(JsonNode.DeepEquals(Merged(batches, int.Parse(p.Id[1..])), p.Attributes), p.Attributes.ToJsonString()));
        }

        for (int b = 0; b < 3; b++) await WriteAsync(b);
        listings.Clear();
        await AssertReadAsync(3);
        Assert.Equal(1, listings.Of($"{harness.Tenant.BlobPrefix}/shard-0000/"));

        for (int b = 3; b < 6; b++) await WriteAsync(b);
        await AssertReadAsync(6);
        Assert.InRange(await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 0, default), 2, 4);
    }

    [Fact]
    public async Task A_compaction_writes_a_run_of_bounded_parts_that_reads_count_only_once_its_last_part_says_it_is_whole()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 1, maxShardFiles: 2);
        var store = harness.Get<ProfileStore>();
        var tenant = harness.Tenant;
        var container = harness.Get<StorageClients>().Profiles;
        // Four batches over the same identities; the three smallest, merged to reach the bound of 2, hold 1.5 parts of rows.
        int perBatch = RunWriter.PartRows / 2 + 100;
        for (int b = 0; b < 4; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", $"batch{b}", 1_000 + b,
                Enumerable.Range(0, perBatch + (b == 0 ? 50 : 0)).Select(i => (new Identity("email", $"u{i:D6}"), Utf8(new JsonObject { ["b"] = b }))), default);
        var before = await ReadAllAsync(store, tenant);
        var ingested = await FilesAsync(harness, 0);

        Assert.Equal(3, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        Assert.Equal(2, await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 0, default));
        var parts = (await FilesAsync(harness, 0)).Except(ingested).ToList();
        Assert.Equal(2, parts.Count);
        Assert.Equal([".00000.parquet", ".00001.parquet"], parts.Select(p => p[^14..]));
        var last = container.GetBlobClient(parts[1]);
        var metadata = (await last.GetPropertiesAsync()).Value.Metadata;
        Assert.Equal("2", metadata["parts"]);
        Assert.Equal(3, metadata["covers"].Split(',').Length);
        Assert.Equal(before, await ReadAllAsync(store, tenant));

        // Without the metadata of its last part (a compaction stopped before it), the run is not read and covers nothing.
        await last.SetMetadataAsync(new Dictionary<string, string>());
        Assert.Equal(4, await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 0, default));
        Assert.Equal(before, await ReadAllAsync(store, tenant));
        // Once older than a read's grace it is deleted, and the shard compacted again.
        clock.Advance(ShardCompactor.ReadDeletesAfter + TimeSpan.FromMinutes(1));
        Assert.Equal(3, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        var now = await FilesAsync(harness, 0);
        Assert.DoesNotContain(parts[0], now);
        Assert.DoesNotContain(parts[1], now);
        Assert.Equal(ingested.Count + 2, now.Count);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task Background_compaction_waits_for_a_quiet_shard_and_a_read_waits_for_the_compaction_holding_its_shard()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ServiceHarness.StartAsync(s => s
            .AddSingleton<TimeProvider>(clock)
            .Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles, o.CompactionQuietSeconds) = (2, 4, 10)));
        var store = harness.Get<ProfileStore>();
        var tenant = harness.Tenant;
        for (int b = 0; b < 10; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", $"batch{b:D2}", 1_000 + b,
                Enumerable.Range(0, 100).Select(i => (new Identity("email", $"u{i}"), Utf8(new JsonObject { ["batch"] = b }))), default);
        var before = await ReadAllAsync(store, tenant);

        // Its files were just written: the background leaves the shard for later; once quiet, it compacts it.
        Assert.Equal(new ShardCompaction(0, Deferred: true, CoveredKept: false), await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Equal(10, await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 0, default));
        clock.Advance(TimeSpan.FromMinutes(1));
        var quiet = await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default);
        Assert.False(quiet.Deferred);
        Assert.InRange(quiet.Merged, 7, 10);
        Assert.Equal(2, harness.Get<ShardCompactor>().SettledShardRuns);
        Assert.InRange(await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 0, default), 1, harness.Get<ShardCompactor>().SettledShardRuns);

        // Shard 1 held by another caller, whose lease runs out in 15 s: the background leaves it, a read waits for it.
        var lockBlob = harness.Get<StorageClients>().Profiles.GetBlobClient($"{tenant.BlobPrefix}/shard-0001.lock");
        await lockBlob.UploadAsync(BinaryData.Empty, overwrite: true);
        await lockBlob.GetBlobLeaseClient().AcquireAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(new ShardCompaction(0, Deferred: true, CoveredKept: false), await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 1, CompactionTrigger.Background, default));
        Assert.InRange((await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, tenant, 1, CompactionTrigger.BeforeRead, default)).Merged, 7, 10);
        Assert.InRange(await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 1, default), 1, 4);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task Ingestion_starts_a_background_compaction_that_bounds_every_shard_and_wakes_it_for_later_batches_and_ends_it_once_no_job_reads()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s
            .Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles, o.CompactionQuietSeconds) = (2, 4, 3)));
        await using var host = await DurableTestHost.StartAsync(ExportWorkflow.Register, new DurableTaskTestHostOptions
        {
            ConfigureServices = services => services.AddSingleton(harness.Get<BackgroundCompaction>()),
        });
        var store = harness.Get<ProfileStore>();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: true);
        string instance = TaskNames.CompactionInstanceIdOf(harness.Tenant.OrgId, harness.Tenant.Sandbox);
        var profiles = new ProfileGenerator(60);
        var job = await RunningExportJobAsync(harness, harness.Tenant);
        for (int round = 0; round < 2; round++)
        {
            for (int b = 0; b < 8; b++) await harness.IngestAsync(dataset, profiles.FirstBatchLines(), host.Client);
            Assert.True(await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 0, default) > 4);
            // It merged while a job of the tenant runs, so it waits for the covered runs' grace (a quarter of an hour):
            // the second round's first batch wakes it.
            await Poll.UntilAsync(async () => (await host.Client.GetInstanceAsync(instance, getInputsAndOutputs: true),
                    await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 0, default), await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 1, default)),
                s => s.Item1?.ReadCustomStatusAs<string>() == CompactionOrchestrator.WaitingForGrace && Math.Max(s.Item2, s.Item3) <= harness.Get<ShardCompactor>().SettledShardRuns,
                TimeSpan.FromSeconds(90), "the background compaction to bound the shards and wait for the grace");
            Assert.True((await FilesAsync(harness, 0)).Count > 4);
        }
        // Once no job reads the tenant's shards, the pass after its merges deletes the runs they covered and it ends.
        await EndAsync(harness, job);
        await harness.IngestAsync(dataset, profiles.FirstBatchLines(), host.Client);
        await Poll.UntilAsync(async () => (await host.Client.GetInstanceAsync(instance), (await FilesAsync(harness, 0)).Count + (await FilesAsync(harness, 1)).Count),
            s => s.Item1?.RuntimeStatus == OrchestrationRuntimeStatus.Completed && s.Item2 <= 2 * harness.Get<ShardCompactor>().SettledShardRuns,
            TimeSpan.FromSeconds(90), "the background compaction to delete the covered runs and end");
        var all = await ReadAllAsync(store, harness.Tenant);
        Assert.Equal(60 * 17, all.Count);
        Assert.Equal(60, all.Select(f => f.Split('|')[0]).Distinct().Count());
    }

    [Fact]
    public async Task Background_compaction_deletes_the_runs_it_covered_at_once_unless_a_job_of_the_tenant_that_reads_shards_runs()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 1, maxShardFiles: 4);
        var (store, compactor, tenant) = (harness.Get<ProfileStore>(), harness.Get<ShardCompactor>(), harness.Tenant);
        for (int b = 0; b < 10; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", $"batch{b:D2}", 1_000 + b,
                Enumerable.Range(0, 50).Select(i => (new Identity("email", $"u{i}"), Utf8(new JsonObject { ["batch"] = b }))), default);
        var before = await ReadAllAsync(store, tenant);
        clock.Advance(TimeSpan.FromMinutes(1));

        var export = await RunningExportJobAsync(harness, harness.Tenant);
        var compaction = await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default);
        Assert.True(compaction.Merged >= 8 && compaction.CoveredKept);
        var files = await FilesAsync(harness, 0);
        int live = await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, 0, default);
        Assert.True(files.Count > live + 8);
        // While an export job or a segment job of the tenant runs, a read of it may be on the covered runs: they stay.
        var kept = new ShardCompaction(0, Deferred: false, CoveredKept: true);
        Assert.Equal(kept, await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Equal(files, await FilesAsync(harness, 0));
        await EndAsync(harness, export);
        long segmentJob = await RunningSegmentJobAsync(harness, tenant);
        Assert.Equal(kept, await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Equal(files, await FilesAsync(harness, 0));
        // Jobs of another tenant, and jobs that have ended, read none of them: they go at once, with no time passed.
        await RunningExportJobAsync(harness, new Tenant(tenant.OrgId, "other"));
        await RunningSegmentJobAsync(harness, new Tenant(tenant.OrgId, "other"));
        await harness.Get<SegmentJobStore>().UpdateAsync(tenant, segmentJob, j => j with { Status = JobStatus.Cancelled }, default);
        // A read before it (its own compaction) leaves them: only the background deletes them before their grace.
        Assert.Equal(default, await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.BeforeRead, default));
        Assert.Equal(files, await FilesAsync(harness, 0));
        Assert.Equal(new ShardCompaction(0, Deferred: false, CoveredKept: false),
            await compactor.CompactShardAsync(FragmentKind.Profile, tenant, 0, CompactionTrigger.Background, default));
        Assert.Equal(live, (await FilesAsync(harness, 0)).Count);
        Assert.Equal(before, await ReadAllAsync(store, tenant));
    }

    [Fact]
    public async Task Background_compaction_deletes_the_runs_it_covered_while_a_job_runs_once_past_their_grace_which_reads_leave()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await ClockedHarnessAsync(clock, shards: 1, maxShardFiles: 4);
        await using var host = await DurableTestHost.StartAsync(ExportWorkflow.Register, new DurableTaskTestHostOptions
        {
            ConfigureServices = services => services.AddSingleton(harness.Get<BackgroundCompaction>()),
        });
        var store = harness.Get<ProfileStore>();
        for (int b = 0; b < 10; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", $"batch{b:D2}", 1_000 + b,
                Enumerable.Range(0, 50).Select(i => (new Identity("email", $"u{i}"), Utf8(new JsonObject { ["batch"] = b }))), default);
        var before = await ReadAllAsync(store, harness.Tenant);
        clock.Advance(TimeSpan.FromMinutes(1));
        await RunningExportJobAsync(harness, harness.Tenant);

        string instance = TaskNames.CompactionInstanceIdOf(harness.Tenant.OrgId, harness.Tenant.Sandbox);
        await host.Client.ScheduleNewOrchestrationInstanceAsync(TaskNames.CompactionOrchestrator,
            new CompactionInput(harness.Tenant.OrgId, harness.Tenant.Sandbox, 1, QuietSeconds: 0, MaxParallelShards: 1, SweepSeconds: 10), new StartOrchestrationOptions(instance));
        await Poll.UntilAsync(() => host.Client.GetInstanceAsync(instance, getInputsAndOutputs: true),
            i => i?.ReadCustomStatusAs<string>() == CompactionOrchestrator.WaitingForGrace, TimeSpan.FromSeconds(60), "the compaction to wait for the grace");
        int live = await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 0, default);
        Assert.InRange(live, 1, harness.Get<ShardCompactor>().SettledShardRuns);
        var merged = await FilesAsync(harness, 0);
        Assert.True(merged.Count > 10);

        // Past the grace (on the store's clock), a read leaves the covered runs; the pass after the timer deletes them.
        clock.Advance(ShardCompactor.CoveredGrace + TimeSpan.FromMinutes(1));
        Assert.Equal(default, await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default));
        Assert.Equal(merged, await FilesAsync(harness, 0));
        await Poll.UntilAsync(() => host.Client.GetInstanceAsync(instance), i => i?.RuntimeStatus == OrchestrationRuntimeStatus.Completed,
            TimeSpan.FromSeconds(60), "the compaction's last pass");
        Assert.Equal(live, (await FilesAsync(harness, 0)).Count);
        Assert.Equal(before, await ReadAllAsync(store, harness.Tenant));
    }

    [Fact]
    public async Task A_file_too_large_to_read_whole_is_read_row_group_by_row_group_as_written()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        var store = harness.Get<ProfileStore>();
        var random = new Random(7);
        // Incompressible text, so that the file holds several row groups and well over a megabyte.
        string Noise() => Convert.ToBase64String(Enumerable.Range(0, 450).Select(_ => (byte)random.Next(256)).ToArray());
        var identities = Enumerable.Range(0, 3_500).Select(i => new Identity("ecid", $"id{i:D5}")).ToList();
        var large = identities.ToDictionary(id => id, id => new JsonObject { ["id"] = id.Id, ["noise"] = Noise() }.ToJsonString());
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "large", 1_000, large.Select(r => (r.Key, (ReadOnlyMemory<byte>)System.Text.Encoding.UTF8.GetBytes(r.Value))), default);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "small", 2_000, identities.Where((_, i) => i % 7 == 0).Select(id => (id, Utf8(new JsonObject { ["v"] = 1 }))), default);
        long largest = 0;
        await foreach (var blob in harness.Get<StorageClients>().Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = harness.Tenant.BlobPrefix + "/" }))
            largest = Math.Max(largest, blob.Properties.ContentLength ?? 0);
        Assert.InRange(largest, 1_200_000, 10_000_000);

        int read = 0;
        await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
        {
            Assert.Equal(identities[read++], identity);
            Assert.Equal(large[identity], fragments[0].Record.GetRawText());
            Assert.Equal(int.Parse(identity.Id[2..]) % 7 == 0 ? ["large", "small"] : ["large"], fragments.Select(f => f.BatchId));
        }
        Assert.Equal(identities.Count, read);
    }

    [Fact]
    public async Task A_shard_file_a_job_writes_is_replaced_when_written_again_kept_when_the_job_stops_and_removed_when_empty()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<ProfileStore>();
        string batch = ProfileStore.KeptApartBatchPrefix + "7";
        ShardFileWriter Writer() => store.OpenShardWriter(FragmentKind.Profile, harness.Tenant, 0, "_segmentation", batch, 5_000, ["segmentMembership"]);
        async Task<string[]> IdsAsync() => (await ReadAllAsync(store, harness.Tenant)).Select(f => f.Split('|')[0]).ToArray();
        async Task WriteAsync(params string[] ids)
        {
            await using var writer = Writer();
            foreach (string id in ids) await writer.AddAsync(new Identity("email", id), Utf8(new JsonObject { ["segmentMembership"] = new JsonObject { ["ups"] = id } }), default);
            await writer.CompleteAsync(default);
        }

        await WriteAsync("a", "b");
        Assert.Equal(["email:a", "email:b"], await IdsAsync());
        await WriteAsync("c");
        Assert.Equal(["email:c"], await IdsAsync());
        await using (var stopped = Writer()) await stopped.AddAsync(new Identity("email", "d"), Utf8(new JsonObject { ["segmentMembership"] = 1 }), default);
        Assert.Equal(["email:c"], await IdsAsync());
        await WriteAsync();
        Assert.Empty(await IdsAsync());
    }

    private static ReadOnlyMemory<byte> Utf8(JsonObject record) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record);

    /// <summary>Every fragment of both shards as "identity|time|dataset|batch|record", in the order a read gives.</summary>
    private static async Task<List<string>> ReadAllAsync(ProfileStore store, Tenant tenant, string? skipBatchId = null)
    {
        var all = new List<string>();
        foreach (int shard in new[] { 0, 1 })
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, tenant, shard, default, skipBatchId))
                all.AddRange(fragments.Select(f => $"{identity}|{f.IngestTimeMs}|{f.DatasetId}|{f.BatchId}|{f.Record.GetRawText()}"));
        return all;
    }

    /// <summary>An export job of <paramref name="tenant"/> that has not ended (<c>NEW</c>), as every job is from its record's writing until it ends.</summary>
    private static Task<ExportJob> RunningExportJobAsync(ServiceHarness harness, Tenant tenant) =>
        harness.Get<JobStore>().CreateAsync(tenant, id => new ExportJob
        {
            Id = id, ImsOrgId = tenant.OrgId, Status = JobStatus.New,
            Destination = new JobDestination { DatasetId = "d" }, Schema = new SchemaRef { Name = "_xdm.context.profile" },
        }, default);

    private static Task EndAsync(ServiceHarness harness, ExportJob job) =>
        harness.Get<JobStore>().UpdateAsync(harness.Tenant, job.Id, j => j with { Status = JobStatus.Succeeded }, default);

    /// <summary>A segment job of <paramref name="tenant"/> being processed; its id.</summary>
    private static async Task<long> RunningSegmentJobAsync(ServiceHarness harness, Tenant tenant)
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var job = await harness.Get<SegmentJobStore>().CreateAsync(tenant, id => new SegmentJob
        {
            Id = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ImsOrgId = tenant.OrgId, Sandbox = new SegmentSandbox(tenant.Sandbox),
            Source = "api", Status = JobStatus.Processing, CreationTime = now, UpdateTime = now, Segments = [],
        }, default);
        return job.Number;
    }

    /// <summary>A harness on <paramref name="clock"/>, of <paramref name="shards"/> shards bounded to <paramref name="maxShardFiles"/> runs, for the compaction tests.</summary>
    private static Task<ServiceHarness> ClockedHarnessAsync(FakeTimeProvider clock, int shards, int maxShardFiles, IShardReadingJobs? jobs = null) =>
        ServiceHarness.StartAsync(s =>
        {
            s.AddSingleton<TimeProvider>(clock).Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (shards, maxShardFiles));
            if (jobs is not null) s.AddSingleton(jobs);
        });

    private static readonly List<Identity> BatchIdentities = [.. Enumerable.Range(0, 400).Select(i => new Identity("email", $"u{i}"))];

    /// <summary><paramref name="batches"/> batches of <see cref="BatchIdentities"/>, <c>batch0</c> onwards, each record <c>{"b": b}</c> with b the batch's number: a chunk file each.</summary>
    private static async Task WriteBatchesAsync(ProfileStore store, Tenant tenant, int batches)
    {
        for (int b = 0; b < batches; b++)
            await store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", $"batch{b}", 1_000 + b, BatchIdentities.Select(id => (id, Utf8(new JsonObject { ["b"] = b }))), default);
    }

    /// <summary>The tenant's chunk files (an ingested chunk's files of every shard, each a section).</summary>
    private static async Task<List<string>> ChunkFilesAsync(ServiceHarness harness)
    {
        var names = new List<string>();
        await foreach (var blob in harness.Get<StorageClients>().Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = ProfileStore.ChunkPrefix(harness.Tenant) }))
            names.Add(blob.Name);
        return names;
    }

    /// <summary>The files a shard's runs are in, as listed: the blobs of its folder, and the chunk files it has a section of (one name a section).</summary>
    private static async Task<List<string>> FilesAsync(ServiceHarness harness, int shard)
    {
        var runs = await harness.Get<ProfileStore>().ListRunsAsync(FragmentKind.Profile, harness.Tenant, shard, default);
        return [.. runs.Live.Concat(runs.Covered).Concat(runs.Unfinished).SelectMany(r => r.Parts.Select(p => p.Name))];
    }
}
