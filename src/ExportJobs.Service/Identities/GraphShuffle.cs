using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Identities;

/// <summary>
/// The shuffle of a <c>pdg</c> export (docs/identity.md). A graph's profile is read where its primary identity's own
/// fragments are stored: in the shard of the primary, which is also the shuffle's partition of the graph. So the first
/// stage moves only the fragments of identities that are not their graph's primary: it reads each shard and writes
/// those, keyed by their primary and without their own <c>identityMap</c>, to the partition of that primary; the second
/// reads a partition as its shard's own fragments (less those moved away, each without its <c>identityMap</c>) merged
/// with the files moved to it, so a graph's fragments meet whatever shards they came from.
/// <para>
/// What a shard's route writes is a function of the graph build and of the runs it reads, so it is kept with the build
/// and named by those runs (<see cref="RouteName"/>): one blob <c>routed/{kind}/s{shard}-{route}.files</c> in the
/// build's container (<see cref="GraphFiles.Build"/>) of sorted fragment files one after the other in partition order
/// (a partition's rows in files of at most <see cref="BytesHeld"/> of them, in read order); and, once it is written,
/// <c>routed/{kind}/s{shard}-{route}.sections</c> with each file's partition and length (<see cref="RouteLengths"/>),
/// from which a partition finds its files in the blob. A later export of
/// the same build whose shard still has those runs reuses them instead of routing again; two exports routing one shard
/// at once write the same bytes. They go with the build (<see cref="SupersededBuilds"/>).
/// </para>
/// </summary>
public sealed class GraphShuffle(ProfileStore store, ShardCompactor compactor, GraphFiles files, ShardReadGate gate, ILogger<GraphShuffle> log)
{

    private static readonly IComparer<FragmentRow> ByIdentity = Comparer<FragmentRow>.Create(FragmentRow.CompareIdentities);

    private static string KindFolder(FragmentKind kind) => $"routed/{kind.ToString().ToLowerInvariant()}/";

    /// <summary>How the names of a shard's routed blob and of the files beside it begin.</summary>
    private static string ShardStem(FragmentKind kind, int shard, string route) => $"{KindFolder(kind)}s{shard.ToString("D4", CultureInfo.InvariantCulture)}-{route}";

    private static string BlobName(FragmentKind kind, int shard, string route) => ShardStem(kind, shard, route) + ".files";

    /// <summary>The route's mark, written once its blob is: its files' partitions and lengths (<see cref="RouteLengths"/>).</summary>
    private static string MarkName(FragmentKind kind, int shard, string route) => ShardStem(kind, shard, route) + ".sections";

    /// <summary>The row groups of the shard's own files that a route moved whole, which the shard's export stage does not fetch; written before the mark.</summary>
    private static string MovedGroupsName(FragmentKind kind, int shard, string route) => ShardStem(kind, shard, route) + ".groups";

    /// <summary>A route's name: 64 bits of a hash of the names of the runs it reads (immutable files, so their names say what they hold).</summary>
    private static string RouteName(IEnumerable<ProfileStore.ShardRun> runs) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', runs.Select(r => r.Name)))).AsSpan(0, 8));

    /// <summary>
    /// Writes the fragments of a shard's identities that are not their graph's primary, of each kind asked for, to the
    /// partitions of their graphs, after compacting the shard as an export does, through the host's
    /// <see cref="ShardReadGate"/> — unless they are already kept with the build for the runs the shard has now.
    /// Returns each kind's route name (in the order of <paramref name="kinds"/>), the bytes the routes hold for each
    /// partition, and how many of them were kept. They are written in runs of at most <see cref="BytesHeld"/>, with every
    /// member but <c>identityMap</c>.
    /// </summary>
    public async Task<(string[] Routes, long[] Bytes, int Kept)> RouteShardAsync(Tenant tenant, string graphs, int shard, IReadOnlyList<FragmentKind> kinds,
        string? skipBatchId, CancellationToken ct)
    {
        using var read = await gate.EnterStitchedAsync(ct);
        var build = files.Build(tenant, graphs);
        var routes = new string[kinds.Count];
        var bytes = new long[store.ShardCount];
        IdentityTable? primaries = null;
        int kept = 0;
        try
        {
            for (int k = 0; k < kinds.Count; k++)
            {
                var kind = kinds[k];
                await compactor.CompactShardAsync(kind, tenant, shard, CompactionTrigger.BeforeRead, ct);
                var runs = await store.RunsToReadAsync(kind, tenant, shard, skipBatchId, ct);
                routes[k] = RouteName(runs);
                string mark = MarkName(kind, shard, routes[k]);
                var written = await build.TryReadFileAsync(mark, RouteLengths.Reader(bytes.Length), ct);
                if (written is not null) kept++;
                else
                {
                    primaries ??= await MovedAsync(tenant, graphs, shard, ct);
                    var whole = new RowGroupSet();
                    written = await RouteAsync(kind, build, shard, routes[k], runs, primaries, whole, ct);
                    await build.WriteFileAsync(MovedGroupsName(kind, shard, routes[k]), whole.Write, ct);
                    await Longs.WriteAsync(build, mark, written.ToArray(), ct);
                }
                for (int p = 0; p < bytes.Length; p++) bytes[p] += written.BytesOf(p);
            }
        }
        finally
        {
            primaries?.Dispose();
        }
        return (routes, bytes, kept);
    }

    /// <summary>
    /// One kind's route of a shard: its runs' rows of moved identities, written by partition as one blob; returns its
    /// files' partitions and lengths, and adds to <paramref name="whole"/> the row groups it moved every row of.
    /// </summary>
    private async Task<RouteLengths> RouteAsync(FragmentKind kind, GraphFiles build, int shard, string route, IReadOnlyList<ProfileStore.ShardRun> runs,
        IdentityTable primaries, RowGroupSet whole, CancellationToken ct)
    {
        using var held = new RoutedRows(BytesHeld);
        await foreach (var row in store.ReadRunRowsAsync(kind, runs, Read(null), new IdentityFilter(primaries.Contains, primaries.HoldsAnyOf) { KeptWhole = whole }, ct))
        {
            var primary = primaries.PrimaryOf(row.IdentityNamespace, row.IdentityId);
            held.Add(ShardRouter.ShardOf(primary, store.ShardCount), primary, WithoutIdentityMap(row));
        }
        // One blob for the whole route, through a local file (it grows with the shard): a blob per partition and run of
        // 8 MB held made 16 times the writes, a third of Azurite's time in a route, and 4 runs for every stage to open.
        var written = new RouteLengths();
        await using var blob = ScratchFiles.Create();
        foreach (var (partition, rows) in held.TakeAll())
        {
            // Stable: a graph's fragments keep the order of their identities, and each identity's its read order.
            var sorted = rows.OrderBy(row => row, ByIdentity).ToList();
            using var file = PooledStreams.Get();
            await ProfileStore.WriteFileAsync(file, sorted, ct, FragmentColumns.RoutedRowGroupSize);
            file.Position = 0;
            await file.CopyToAsync(blob, ct);
            written.Add(partition, file.Length);
        }
        if (written.Count > 0) await build.UploadAsync(BlobName(kind, shard, route), blob, ct);
        return written;
    }

    /// <summary>
    /// A partition's fragments of one kind, grouped by graph primary in identity order: its shard's own, less those of
    /// identities moved to other graphs' partitions (<paramref name="moved"/>), merged with those the routes named
    /// moved to it (<paramref name="routes"/>: by shard, each kind's route name, or null for a shard with no
    /// fragments); none with its own <c>identityMap</c>, which is the graph's (<see cref="GraphIdentities.Records"/>).
    /// The row groups of its own that its route moved whole are not fetched. <paramref name="live"/>: the shard's own
    /// runs, as listed (<see cref="ShardCompactor.ReadyToReadAsync"/>).
    /// </summary>
    internal async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadPartitionAsync(FragmentKind kind, Tenant tenant, string graphs,
        IReadOnlyList<string[]?> routes, int partition, IReadOnlyList<ProfileStore.ShardRun> live, IdentityTable moved, string? skipBatchId, IReadOnlySet<string>? members,
        MemberPrefilter? prefilter, [EnumeratorCancellation] CancellationToken ct)
    {
        var build = files.Build(tenant, graphs);
        var routed = await RoutedToAsync(build, kind, routes, partition, ct);
        // Written before the route's mark; without it, every group is fetched.
        var movedWhole = partition < routes.Count && routes[partition] is { } own && (int)kind < own.Length
            ? await build.TryReadFileAsync(MovedGroupsName(kind, partition, own[(int)kind]), RowGroupSet.Read, ct)
            : null;
        await foreach (var group in store.ReadShardWithFilesAsync(kind, live, build.Container, routed,
            new IdentityFilter((ns, id) => !moved.Contains(ns, id)) { KeepsNoneOf = movedWhole, KeepsAllOf = ns => !moved.HoldsAnyOf(ns) }, WithoutIdentityMap, skipBatchId, Read(members), prefilter, ct))
            yield return group;
    }

    /// <summary>The files the routes (by shard, each kind's route name, or null) wrote for a partition: sections of their blobs.</summary>
    private async Task<List<FileSection>> RoutedToAsync(GraphFiles build, FragmentKind kind, IReadOnlyList<string[]?> routes, int partition, CancellationToken ct)
    {
        var named = routes.Select((route, shard) => (Shard: shard, Route: route is { } names && (int)kind < names.Length ? names[(int)kind] : null))
            .Where(r => r.Route is not null).ToList();
        var marks = await Task.WhenAll(named.Select(r => build.TryReadFileAsync(MarkName(kind, r.Shard, r.Route!), RouteLengths.Reader(store.ShardCount), ct)));
        var routed = new List<FileSection>();
        for (int i = 0; i < named.Count; i++)
        {
            var (shard, route) = named[i];
            // A route's mark is written after its blob, and every route ends before a stage begins: a route without one lost its files.
            var lengths = marks[i] ?? throw new InvalidOperationException($"The route of shard {shard} to partitions of graph build {build.Container.Name} has no mark.");
            foreach (var (offset, length) in lengths.Of(partition)) routed.Add(new FileSection(BlobName(kind, shard, route!), offset, length));
        }
        return routed;
    }

    /// <summary>
    /// The members a stage reads of <paramref name="members"/> (all when null): never a fragment's own
    /// <c>identityMap</c>, which its graph's replaces, so that column is not even decoded.
    /// </summary>
    private static MemberSelection Read(IReadOnlySet<string>? members) => new(members, IdentityMap.Member);

    /// <summary>A row without its own <c>identityMap</c>: only a record kept whole still has one once read (<see cref="Read"/>).</summary>
    private static FragmentRow WithoutIdentityMap(FragmentRow row) => row.Record.IsWhole ? row with { Record = WithoutIdentityMap(row.Record) } : row;

    private static StoredRecord WithoutIdentityMap(StoredRecord record) => record.IsWhole ? record.Without(IdentityMap.Member) : record;

    /// <summary>What the export stage reads of a partition's build, loaded at once: its graphs (<see cref="GraphsAsync"/>) and its moved identities (<see cref="MovedAsync"/>); the caller disposes both.</summary>
    public async Task<(IdentityTable Graphs, IdentityTable Moved)> TablesAsync(Tenant tenant, string graphs, int partition, CancellationToken ct)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var stitched = GraphsAsync(tenant, graphs, partition, ct);
        var moved = MovedAsync(tenant, graphs, partition, ct);
        await Task.WhenAll(stitched, moved);
        log.LogInformation("Graph build {Key}: partition {Partition}'s graphs and moved identities loaded in {Ms} ms", graphs, partition, watch.ElapsedMilliseconds);
        return (stitched.Result, moved.Result);
    }

    /// <summary>The graphs of more than one identity whose primary is of the partition: primary → its identities (<see cref="GraphIdentities"/>).</summary>
    public Task<IdentityTable> GraphsAsync(Tenant tenant, string graphs, int partition, CancellationToken ct) =>
        TableAsync(files.Build(tenant, graphs), GraphFiles.Folder("", IdentityGraphBuilder.Graph, partition), GraphRow.AddTo, ct);

    /// <summary>The identities of a shard that are not their graph's primary, each with its primary.</summary>
    public Task<IdentityTable> MovedAsync(Tenant tenant, string graphs, int shard, CancellationToken ct) =>
        TableAsync(files.Build(tenant, graphs), GraphFiles.Folder("", IdentityGraphBuilder.Map, shard), PairRow.AddTo, ct);

    /// <summary>The rows of a folder of the build, each read into one table by <paramref name="add"/> from its file's buffer (no row object, no string of an id).</summary>
    private static async Task<IdentityTable> TableAsync(GraphFiles build, string folder, Action<IdentityTable, GraphRowReader> add, CancellationToken ct)
    {
        var (names, bytes) = await build.ListFolderAsync(folder, ct);
        IdentityTable? table = null;
        try
        {
            await foreach (var file in build.HoldAllAsync(names, ct))
            {
                // A row's file bytes are at least its bytes in the table (an identity there is its namespace's number and its id).
                table ??= new IdentityTable(bytes, file.RowsIn(bytes));
                ReadInto(table, file, add);
            }
            return table ?? new IdentityTable(0);
        }
        catch
        {
            table?.Dispose();
            throw;
        }
    }

    private static void ReadInto(IdentityTable table, GraphFiles.PooledFile file, Action<IdentityTable, GraphRowReader> add)
    {
        using var binary = file.Reader();
        var reader = new GraphRowReader(binary);
        for (int rows = binary.ReadInt32(); rows > 0; rows--) add(table, reader);
    }

    /// <summary>
    /// Bytes of rows a route holds in memory (<see cref="RoutedRows"/>), over all partitions, before it spills them to
    /// local files, and of a partition's rows it sorts and writes as one file. 8 MB: held as row objects, 16 MB peaked
    /// at 544-589 MB in the route at N = 1,000,000, 8 MB at 525-532 MB; held as bytes and written as a run each time,
    /// 16 MB wrote half the files and routed no faster (docs/performance.md).
    /// </summary>
    private const long BytesHeld = 8 * 1024 * 1024;
}
