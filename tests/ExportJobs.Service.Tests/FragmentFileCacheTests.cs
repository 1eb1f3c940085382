using System.Diagnostics;
using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

public class FragmentFileCacheTests
{
    private static readonly List<Identity> Identities = Enumerable.Range(0, 3_000).Select(i => new Identity("email", $"id{i}")).ToList();

    [Fact]
    public async Task Files_the_host_wrote_are_read_from_its_copies_as_they_were_written()
    {
        await using var harness = await StartAsync();
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        await WriteAsync(store, harness.Tenant, "b1", "one");

        Assert.Equal(Expected("one"), await ReadAsync(store, harness.Tenant));
        Assert.Equal(0, cache.Misses);
        Assert.Equal(ShardCount, cache.Hits);
        Assert.True(cache.Bytes > 0);
    }

    [Fact]
    public async Task Another_host_fetches_each_file_once_then_reads_its_copy()
    {
        await using var harness = await StartAsync();
        await WriteAsync(harness.Get<ProfileStore>(), harness.Tenant, "b1", "one");
        using var otherCache = new FragmentFileCache(harness.Get<IOptions<ExportStorageOptions>>());
        var other = OtherHost(harness, otherCache);

        Assert.Equal(Expected("one"), await ReadAsync(other, harness.Tenant));
        Assert.Equal((0L, (long)ShardCount), (otherCache.Hits, otherCache.Misses));
        Assert.Equal(Expected("one"), await ReadAsync(other, harness.Tenant));
        Assert.Equal(((long)ShardCount, (long)ShardCount), (otherCache.Hits, otherCache.Misses));
    }

    [Fact]
    public async Task A_file_replaced_under_its_name_by_another_host_is_read_as_it_is_now()
    {
        await using var harness = await StartAsync();
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        using var otherCache = new FragmentFileCache(harness.Get<IOptions<ExportStorageOptions>>());
        var other = OtherHost(harness, otherCache);
        var identity = new Identity("email", "member");

        await WriteMembershipAsync(store, harness.Tenant, identity, "first");
        Assert.Equal("first", await MembershipAsync(store, harness.Tenant, identity));
        await WriteMembershipAsync(other, harness.Tenant, identity, "second");

        Assert.Equal("second", await MembershipAsync(store, harness.Tenant, identity));
        Assert.Equal(1, cache.Misses);
    }

    [Fact]
    public async Task A_compacted_run_is_read_from_the_copies_of_its_parts_the_last_one_included()
    {
        await using var harness = await StartAsync(o => o.MaxShardFiles = 2);
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        for (int batch = 0; batch < 4; batch++) await WriteAsync(store, harness.Tenant, $"b{batch}", $"v{batch}", ingestTimeMs: 1_000 + batch);
        for (int shard = 0; shard < ShardCount; shard++)
            Assert.True((await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, shard, CompactionTrigger.BeforeRead, default)).Merged > 0);
        var (hits, misses) = (cache.Hits, cache.Misses);

        Assert.Equal(Expected("v3"), await ReadAsync(store, harness.Tenant, newestOnly: true));
        Assert.Equal(misses, cache.Misses);
        Assert.True(cache.Hits > hits);
    }

    [Fact]
    public async Task A_copy_deleted_under_the_host_is_fetched_again()
    {
        await using var harness = await StartAsync();
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        await WriteAsync(store, harness.Tenant, "b1", "one");
        foreach (string file in Directory.EnumerateFiles(cache.Folder!)) File.Delete(file);

        Assert.Equal(Expected("one"), await ReadAsync(store, harness.Tenant));
        Assert.Equal(ShardCount, cache.Misses);
        Assert.Single(Directory.EnumerateFiles(cache.Folder!));
    }

    [Fact]
    public async Task A_host_whose_disk_refuses_copies_writes_and_reads_as_without_them()
    {
        await using var harness = await StartAsync();
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        await WriteAsync(store, harness.Tenant, "b1", "one");
        string folder = cache.Folder!;
        Directory.Delete(folder, recursive: true);
        File.WriteAllText(folder, "a file where the copies' folder was: no copy can be made");
        try
        {
            await WriteAsync(store, harness.Tenant, "b2", "two", ingestTimeMs: 2_000);

            Assert.Equal(Expected("two"), await ReadAsync(store, harness.Tenant, newestOnly: true));
            Assert.Equal(0, cache.Hits);
            Assert.Equal(2 * ShardCount, cache.Misses);
        }
        finally
        {
            File.Delete(folder);
        }
    }

    [Fact]
    public async Task Copies_stay_within_their_bound_the_least_recently_used_going_first()
    {
        const long Bound = 200_000;
        await using var harness = await StartAsync(o => o.LocalCacheBytes = Bound);
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        for (int batch = 0; batch < 12; batch++)
        {
            await WriteAsync(store, harness.Tenant, $"b{batch}", $"v{batch}", ingestTimeMs: 1_000 + batch);
            Assert.InRange(cache.Bytes, 1, Bound);
            Assert.InRange(Directory.EnumerateFiles(cache.Folder!).Sum(f => new FileInfo(f).Length), 1, Bound);
        }
        Assert.True(Directory.EnumerateFiles(cache.Folder!).Count() < 12 * ShardCount, "copies were let go");

        Assert.Equal(Expected("v11"), await ReadAsync(store, harness.Tenant, newestOnly: true));
        Assert.True(cache.Misses > 0, "the copies let go are fetched");
    }

    [Fact]
    public async Task A_host_whose_files_come_to_more_than_its_bound_keeps_its_copies_from_one_read_of_them_to_the_next()
    {
        await using var harness = await StartAsync();
        var writer = OtherHost(harness, NoCopies());
        for (int batch = 0; batch < 10; batch++) await WriteAsync(writer, harness.Tenant, $"b{batch}", $"v{batch}", ingestTimeMs: 1_000 + batch);
        var (files, total) = await FilesAsync(harness, harness.Tenant);
        long bound = total * 3 / 5;
        Assert.True(files.Max() <= bound / 4, "every file may be copied");
        using var cache = Bounded(bound);
        var reader = OtherHost(harness, cache);

        Assert.Equal(Expected("v9"), await ReadAsync(reader, harness.Tenant, newestOnly: true));
        Assert.Equal((0L, (long)files.Count), (cache.Hits, cache.Misses));
        Assert.True(cache.Passing > 0, "what found no room was read from passing copies");
        long kept = cache.Bytes;
        Assert.InRange(kept, bound / 2, bound);

        for (int pass = 1; pass <= 2; pass++)
        {
            var (hits, misses) = (cache.Hits, cache.Misses);
            Assert.Equal(Expected("v9"), await ReadAsync(reader, harness.Tenant, newestOnly: true));
            Assert.True(cache.Hits - hits >= files.Count / 2, $"pass {pass}: {cache.Hits - hits} files read from copies");
            Assert.Equal(files.Count, cache.Hits - hits + cache.Misses - misses);
            Assert.Equal(kept, cache.Bytes);
        }
        Assert.Equal(kept, Directory.EnumerateFiles(cache.Folder!).Sum(f => new FileInfo(f).Length));
    }

    [Fact]
    public async Task Copies_not_read_for_an_hour_make_room_for_the_files_read_now()
    {
        await using var harness = await StartAsync();
        var writer = OtherHost(harness, NoCopies());
        var other = harness.Tenant with { Sandbox = "other" };
        for (int batch = 0; batch < 8; batch++) await WriteAsync(writer, harness.Tenant, $"b{batch}", $"v{batch}", ingestTimeMs: 1_000 + batch);
        await WriteAsync(writer, other, "b1", "two");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var cache = Bounded((await FilesAsync(harness, harness.Tenant)).Bytes, clock);
        var reader = OtherHost(harness, cache);
        Assert.Equal(Expected("v7"), await ReadAsync(reader, harness.Tenant, newestOnly: true));
        Assert.Equal(0, cache.Passing);

        clock.Advance(FragmentFileCache.StaleAfter - TimeSpan.FromMinutes(1));
        Assert.Equal(Expected("two"), await ReadAsync(reader, other));
        long hits = cache.Hits;
        Assert.Equal(Expected("two"), await ReadAsync(reader, other));
        Assert.Equal(hits, cache.Hits);
        Assert.Equal(2 * ShardCount, cache.Passing);

        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(Expected("two"), await ReadAsync(reader, other));
        Assert.Equal(Expected("two"), await ReadAsync(reader, other));
        Assert.Equal(hits + ShardCount, cache.Hits);
        Assert.Equal(2 * ShardCount, cache.Passing);
    }

    [Fact]
    public async Task Copies_the_host_wrote_and_has_not_read_make_room_for_the_files_read_now()
    {
        await using var harness = await StartAsync();
        var other = harness.Tenant with { Sandbox = "other" };
        for (int batch = 0; batch < 8; batch++) await WriteAsync(OtherHost(harness, NoCopies()), harness.Tenant, $"a{batch}", $"v{batch}", ingestTimeMs: 1_000 + batch);
        await WriteAsync(OtherHost(harness, NoCopies()), other, "b1", "two");
        long bound = (await FilesAsync(harness, harness.Tenant)).Bytes;
        using var cache = Bounded(bound);
        var host = OtherHost(harness, cache);
        // The same batches again under other names: the host's copies of them fill its bound.
        for (int batch = 0; batch < 8; batch++) await WriteAsync(host, harness.Tenant, $"c{batch}", $"v{batch}", ingestTimeMs: 2_000 + batch);
        var (read, _) = await FilesAsync(harness, other);
        Assert.True(bound - cache.Bytes < read.Min(), $"{cache.Bytes} of {bound} bytes held: no room for a file of {read.Min()}");

        Assert.Equal(Expected("two"), await ReadAsync(host, other));
        Assert.Equal(Expected("two"), await ReadAsync(host, other));
        Assert.Equal((long)ShardCount, cache.Hits);
        Assert.Equal(0, cache.Passing);
        Assert.InRange(cache.Bytes, 1, bound);
    }

    [Fact]
    public async Task Compaction_lets_go_of_the_copies_of_the_runs_it_covered_and_of_the_chunk_files_it_deleted()
    {
        await using var harness = await StartAsync(o => (o.MaxShardFiles, o.CompactionQuietSeconds) = (2, 0));
        var (store, cache, compactor) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>(), harness.Get<ShardCompactor>());
        // The second round's merges cover the compacted run of the first (its copy let go as it is covered), as well as
        // runs in chunk files.
        foreach (var (round, batches) in new[] { (0, 4), (1, 8) })
        {
            for (int batch = 0; batch < batches; batch++) await WriteAsync(store, harness.Tenant, $"b{round}{batch}", $"v{batch}", ingestTimeMs: 1_000 + 10 * round + batch);
            long written = cache.Bytes;
            // A pass merges: the copies of the runs it covered go, but for the chunk files' (the chunk files stay).
            await compactor.CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.Background, default);
            Assert.Equal(await LiveBytesAsync(store, harness.Tenant, outsideChunkFiles: true) + await ChunkFileBytesAsync(harness), cache.Bytes);
            // The next deletes what the merges covered (no job runs), chunk files whole, and their copies.
            await compactor.CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.Background, default);
            long live = await LiveBytesAsync(store, harness.Tenant);
            Assert.InRange(live, 1, written);
            Assert.Equal(live, cache.Bytes);
            Assert.Equal(live, Directory.EnumerateFiles(cache.Folder!).Sum(f => new FileInfo(f).Length));
            Assert.Equal(round > 0, (await store.ListRunsAsync(FragmentKind.Profile, harness.Tenant, 0, default)).Live.Any(r => r.Covers.Any(c => !c.EndsWith(".parquet", StringComparison.Ordinal))));
        }
        Assert.Equal(Expected("v7"), await ReadAsync(store, harness.Tenant, newestOnly: true));
    }

    [Fact]
    public async Task The_sections_of_a_chunk_file_are_read_from_one_copy_of_it()
    {
        await using var harness = await StartAsync(o => o.ShardCount = 2);
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        await WriteAsync(store, harness.Tenant, "b1", "one");
        Assert.Equal(2, (await store.ListShardsAsync(FragmentKind.Profile, harness.Tenant, default)).Count);

        // The host that wrote it reads both shards' sections from its copy; another host fetches the file once, for the first.
        Assert.Equal(Expected("one"), await ReadAsync(store, harness.Tenant));
        Assert.Equal((2L, 0L), (cache.Hits, cache.Misses));
        Assert.Single(Directory.EnumerateFiles(cache.Folder!));
        using var otherCache = new FragmentFileCache(harness.Get<IOptions<ExportStorageOptions>>());
        Assert.Equal(Expected("one"), await ReadAsync(OtherHost(harness, otherCache), harness.Tenant));
        Assert.Equal((1L, 1L), (otherCache.Hits, otherCache.Misses));
        // Without copies, each section is fetched from its offset.
        using var without = NoCopies();
        Assert.Equal(Expected("one"), await ReadAsync(OtherHost(harness, without), harness.Tenant));
        Assert.Equal((0L, 0L), (without.Hits, without.Misses));
    }

    [Fact]
    public async Task With_copies_off_nothing_is_copied()
    {
        await using var harness = await StartAsync(o => o.LocalCacheBytes = 0);
        var (store, cache) = (harness.Get<ProfileStore>(), harness.Get<FragmentFileCache>());
        await WriteAsync(store, harness.Tenant, "b1", "one");

        Assert.Equal(Expected("one"), await ReadAsync(store, harness.Tenant));
        Assert.Equal((0L, 0L, 0L), (cache.Hits, cache.Misses, cache.Bytes));
        Assert.Null(cache.Folder);
    }

    [Fact]
    public async Task A_hosts_folder_goes_when_it_stops_or_when_the_next_host_finds_its_process_ended()
    {
        await using var harness = await StartAsync();
        var cache = new FragmentFileCache(harness.Get<IOptions<ExportStorageOptions>>());
        await WriteAsync(OtherHost(harness, cache), harness.Tenant, "b1", "one");
        string folder = cache.Folder!;
        Assert.NotEmpty(Directory.EnumerateFiles(folder));
        cache.Dispose();
        Assert.False(Directory.Exists(folder));

        using var ended = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await ended.WaitForExitAsync();
        string endedFolder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"exportjobs-cache-{ended.Id}-{Guid.NewGuid():N}")).FullName;
        File.WriteAllText(Path.Combine(endedFolder, "1"), "left by a killed host");
        string liveFolder = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"exportjobs-cache-{Environment.ProcessId}-{Guid.NewGuid():N}")).FullName;
        try
        {
            using var next = new FragmentFileCache(harness.Get<IOptions<ExportStorageOptions>>());
            Assert.False(Directory.Exists(endedFolder));
            Assert.True(Directory.Exists(liveFolder));
        }
        finally
        {
            Directory.Delete(liveFolder);
            if (Directory.Exists(endedFolder)) Directory.Delete(endedFolder, recursive: true);
        }
    }

    /// <summary>One shard: a batch is then one file (a chunk file of one section), as the counts of files here are.</summary>
    private const int ShardCount = 1;

    private static Task<ServiceHarness> StartAsync(Action<ExportStorageOptions>? configure = null) =>
        ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o =>
        {
            o.ShardCount = ShardCount;
            configure?.Invoke(o);
        }));

    private static FragmentFileCache NoCopies() => Bounded(0);

    private static FragmentFileCache Bounded(long bytes, TimeProvider? clock = null) =>
        new(Options.Create(new ExportStorageOptions { LocalCacheBytes = bytes }), clock);

    /// <summary>The sizes of the tenant's fragment files, and their sum.</summary>
    private static async Task<(List<long> Sizes, long Bytes)> FilesAsync(ServiceHarness harness, Tenant tenant)
    {
        var sizes = new List<long>();
        for (int shard = 0; shard < ShardCount; shard++)
            sizes.AddRange((await harness.Get<ProfileStore>().ListRunsAsync(FragmentKind.Profile, tenant, shard, default)).Live.Select(r => r.Size));
        return (sizes, sizes.Sum());
    }

    private static async Task<long> LiveBytesAsync(ProfileStore store, Tenant tenant, bool outsideChunkFiles = false)
    {
        long live = 0;
        for (int shard = 0; shard < ShardCount; shard++)
            live += (await store.ListRunsAsync(FragmentKind.Profile, tenant, shard, default)).Live.Where(r => !(outsideChunkFiles && r.InChunk)).Sum(r => r.Size);
        return live;
    }

    private static async Task<long> ChunkFileBytesAsync(ServiceHarness harness)
    {
        long bytes = 0;
        await foreach (var blob in harness.Get<StorageClients>().Profiles.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = ProfileStore.ChunkPrefix(harness.Tenant) }))
            bytes += blob.Properties.ContentLength ?? 0;
        return bytes;
    }

    private static ProfileStore OtherHost(ServiceHarness harness, FragmentFileCache cache) =>
        new(harness.Get<StorageClients>(), harness.Get<IOptions<ExportStorageOptions>>(), cache);

    private static Task WriteAsync(ProfileStore store, Tenant tenant, string batchId, string value, long ingestTimeMs = 1_000) =>
        store.WriteBatchAsync(FragmentKind.Profile, tenant, "ds", batchId, ingestTimeMs,
            Identities.Select(id => (id, Utf8(new JsonObject { ["v"] = value, ["id"] = id.Id }))), default);

    private static Dictionary<string, string> Expected(string value) => Identities.ToDictionary(id => id.Id, _ => value);

    /// <summary>Each identity's value: of its only fragment, or with <paramref name="newestOnly"/> of its newest.</summary>
    private static async Task<Dictionary<string, string>> ReadAsync(ProfileStore store, Tenant tenant, bool newestOnly = false)
    {
        var values = new Dictionary<string, string>();
        foreach (int shard in await store.ListShardsAsync(FragmentKind.Profile, tenant, default))
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, tenant, shard, default))
            {
                Assert.True(newestOnly || fragments.Count == 1);
                Assert.Equal(identity.Id, fragments[^1].Record.GetProperty("id").GetString());
                values.Add(identity.Id, fragments[^1].Record.GetProperty("v").GetString()!);
            }
        return values;
    }

    private static async Task WriteMembershipAsync(ProfileStore store, Tenant tenant, Identity identity, string status)
    {
        int shard = ShardRouter.ShardOf(identity, ShardCount);
        await using var writer = store.OpenShardWriter(FragmentKind.Profile, tenant, shard, "_segmentation", ProfileStore.KeptApartBatchPrefix + "job", 1_000, ["segmentMembership"]);
        await writer.AddAsync(identity, Utf8(new JsonObject { ["segmentMembership"] = status }), default);
        await writer.CompleteAsync(default);
    }

    private static async Task<string> MembershipAsync(ProfileStore store, Tenant tenant, Identity identity)
    {
        await foreach (var (read, fragments) in store.ReadShardAsync(FragmentKind.Profile, tenant, ShardRouter.ShardOf(identity, ShardCount), default))
            if (read == identity) return fragments.Single().Record.GetProperty("segmentMembership").GetString()!;
        throw new InvalidOperationException("The membership was not read.");
    }

    private static ReadOnlyMemory<byte> Utf8(JsonObject record) => System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(record);
}
