using System.Globalization;
using System.Text.Json;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Identities;

/// <summary>
/// The shuffle of a <c>pdg</c> export (docs/identity.md). A graph's profile is read where its primary identity's own
/// fragments are stored: in the shard of the primary, which is also the shuffle's partition of the graph. So the first
/// stage moves only the fragments of identities that are not their graph's primary: it reads each shard and writes
/// those, keyed by their primary and without their own <c>identityMap</c>, to the partition of that primary; the second
/// reads a partition as its shard's own fragments (less those moved away, each without its <c>identityMap</c>) merged
/// with the files moved to it, so a graph's fragments meet whatever shards they came from. The moved files are sorted
/// runs at <c>{kind}/p{partition}/s{shard}-{run}.parquet</c> in a container of the job's own (named by a hash of the
/// tenant and the job), deleted in one request when the job ends, however many files it holds.
/// </summary>
public sealed class GraphShuffle(ProfileStore store, GraphFiles files, ShardReadGate gate, StorageClients clients, IOptions<ExportStorageOptions> options)
{
    private const string IdentityMapMember = "identityMap";

    /// <summary>The container of a job's moved fragments.</summary>
    private BlobContainerClient Container(Tenant tenant, long jobId) => clients.Profiles.GetParentBlobServiceClient().GetBlobContainerClient(
        StorageNames.WorkContainer(options.Value.NamePrefix, "pdgjob-", $"{tenant.BlobPrefix}/{jobId.ToString(CultureInfo.InvariantCulture)}"));

    private static string PartitionFolder(FragmentKind kind, int partition) =>
        $"{kind.ToString().ToLowerInvariant()}/p{partition.ToString("D4", CultureInfo.InvariantCulture)}/";

    /// <summary>
    /// Writes the fragments of a shard's identities that are not their graph's primary, of each kind asked for, to the
    /// partitions of their graphs, after compacting the shard as an export does, through the host's
    /// <see cref="ShardReadGate"/>; returns the bytes written to each partition. They are written in runs of at most
    /// <see cref="BytesHeld"/>, profiles holding only <paramref name="members"/> (events every member).
    /// </summary>
    public async Task<long[]> RouteShardAsync(Tenant tenant, long jobId, string graphs, int shard, IReadOnlyList<FragmentKind> kinds,
        string? skipBatchId, IReadOnlySet<string>? members, CancellationToken ct)
    {
        using var read = await gate.EnterStitchedAsync(ct);
        foreach (var kind in kinds) await store.CompactShardAsync(kind, tenant, shard, CompactionTrigger.BeforeRead, ct);
        var primaries = await MovedAsync(tenant, graphs, shard, ct);
        var container = Container(tenant, jobId);
        await container.CreateIfNotExistsAsync(cancellationToken: ct);

        var bytes = new long[store.ShardCount];
        foreach (var kind in kinds)
        {
            var byPartition = new Dictionary<int, List<FragmentRow>>();
            long held = 0;
            int runs = 0;
            // Written as sorted runs of at most BytesHeld of records over all partitions, so a shard's rows are never all held.
            async Task FlushAsync()
            {
                foreach (var (partition, rows) in byPartition.Where(p => p.Value.Count > 0).OrderBy(p => p.Key))
                {
                    // Stable: a graph's fragments keep the order of their identities, and each identity's its read order.
                    var sorted = rows.SortStable(FragmentRow.CompareIdentities);
                    bytes[partition] += await ProfileStore.WriteFileAsync(container, FileName(kind, partition, shard, runs), sorted, ct);
                }
                byPartition.Clear();
                (held, runs) = (0, runs + 1);
            }
            await foreach (var row in store.ReadShardRowsAsync(kind, tenant, shard, skipBatchId, Read(kind == FragmentKind.Profile ? members : null), primaries.Contains, ct))
            {
                var primary = primaries.PrimaryOf(row.IdentityNamespace, row.IdentityId);
                int partition = ShardRouter.ShardOf(primary, store.ShardCount);
                if (!byPartition.TryGetValue(partition, out var rows)) byPartition[partition] = rows = [];
                var routed = row with { IdentityNamespace = primary.Namespace, IdentityId = primary.Id, Record = WithoutIdentityMap(row.Record).Detached() };
                rows.Add(routed);
                if ((held += routed.Record.JsonLength) >= BytesHeld) await FlushAsync();
            }
            await FlushAsync();
        }
        return bytes;
    }

    /// <summary>
    /// A partition's fragments of one kind, grouped by graph primary in identity order: its shard's own, less those of
    /// identities moved to other graphs' partitions (<paramref name="moved"/>), merged with those moved to it; none
    /// with its own <c>identityMap</c>, which is the graph's (<see cref="GraphIdentities.Records"/>).
    /// </summary>
    public IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> ReadPartitionAsync(FragmentKind kind, Tenant tenant, long jobId,
        int partition, IdentityTable moved, string? skipBatchId, IReadOnlySet<string>? members, CancellationToken ct) =>
        store.ReadShardWithFolderAsync(kind, tenant, partition, Container(tenant, jobId), PartitionFolder(kind, partition),
            (ns, id) => !moved.Contains(ns, id), WithoutIdentityMap, skipBatchId, Read(members), ct);

    /// <summary>
    /// The members a stage reads of <paramref name="members"/> (all when null): never a fragment's own
    /// <c>identityMap</c>, which its graph's replaces, so that column is not even decoded.
    /// </summary>
    private static MemberSelection Read(IReadOnlySet<string>? members) => new(members, IdentityMapMember);

    /// <summary>A row without its own <c>identityMap</c>: only a record kept whole still has one once read (<see cref="Read"/>).</summary>
    private static FragmentRow WithoutIdentityMap(FragmentRow row) => row.Record.IsWhole ? row with { Record = WithoutIdentityMap(row.Record) } : row;

    private static StoredRecord WithoutIdentityMap(StoredRecord record) => record.IsWhole ? record.Without(IdentityMapMember) : record;

    /// <summary>What the export stage reads of a partition's build, loaded at once: its graphs (<see cref="GraphsAsync"/>) and its moved identities (<see cref="MovedAsync"/>).</summary>
    public async Task<(IdentityTable Graphs, IdentityTable Moved)> TablesAsync(Tenant tenant, string graphs, int partition, CancellationToken ct)
    {
        var stitched = GraphsAsync(tenant, graphs, partition, ct);
        var moved = MovedAsync(tenant, graphs, partition, ct);
        await Task.WhenAll(stitched, moved);
        return (stitched.Result, moved.Result);
    }

    /// <summary>The graphs of more than one identity whose primary is of the partition: primary → its identities (<see cref="GraphIdentities"/>).</summary>
    public Task<IdentityTable> GraphsAsync(Tenant tenant, string graphs, int partition, CancellationToken ct) =>
        TableAsync<GraphRow>(GraphFiles.Folder(GraphFiles.Root(tenant, graphs), IdentityGraphBuilder.Graph, partition), (table, row) => table.AddValue(row.Primary, row.Identities), ct);

    /// <summary>The identities of a shard that are not their graph's primary, each with its primary.</summary>
    public Task<IdentityTable> MovedAsync(Tenant tenant, string graphs, int shard, CancellationToken ct) =>
        TableAsync<PairRow>(GraphFiles.Folder(GraphFiles.Root(tenant, graphs), IdentityGraphBuilder.Map, shard), (table, row) => table.AddPrimary(row.Identity, row.To), ct);

    /// <summary>The rows of a folder of the build, each added to one table by <paramref name="add"/>.</summary>
    private async Task<IdentityTable> TableAsync<T>(string folder, Action<IdentityTable, T> add, CancellationToken ct) where T : IGraphRow<T>
    {
        var (names, bytes) = await files.ListFolderAsync(folder, ct);
        // A row's file bytes are at least its bytes in the table (an identity there is its namespace's number and its id).
        var table = new IdentityTable(bytes);
        await foreach (var row in files.ReadAsync<T>(names, ct)) add(table, row);
        return table;
    }

    private static string FileName(FragmentKind kind, int partition, int shard, int run) =>
        $"{PartitionFolder(kind, partition)}s{shard.ToString("D4", CultureInfo.InvariantCulture)}-{run.ToString("D4", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>
    /// Bytes of records (as JSON) a routing holds, over all partitions, before it writes them as sorted runs (one file
    /// per partition). 8 MB: with 16 MB the host peaked at 544-589 MB in the route at N = 1,000,000, with 8 MB at
    /// 525-532 MB (two runs; the second export in 26.4 and 30.6 s against 27.3-28.3 s: docs/performance.md).
    /// </summary>
    private const long BytesHeld = 8 * 1024 * 1024;

    /// <summary>Removes a job's moved fragments, of both kinds, with their container.</summary>
    public Task DeleteAsync(Tenant tenant, long jobId, CancellationToken ct) => Container(tenant, jobId).DeleteIfExistsAsync(cancellationToken: ct);
}
