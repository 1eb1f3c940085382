using System.Globalization;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;

namespace ExportJobs.Service.Identities;

/// <summary>
/// The shuffle of a <c>pdg</c> export (docs/identity.md): the first stage reads each shard's fragments and writes each,
/// keyed by its graph's primary identity and without its own <c>identityMap</c>, to the partition of that primary; the
/// second reads a partition's files as one stream grouped by primary, so a graph's fragments meet whatever shards they
/// came from. The files are the job's own, sorted runs at <c>{org}/{sandbox}/pdg/job{id}/p{partition}/s{shard}-{run}.parquet</c>
/// in the container of their kind, removed when the job ends.
/// </summary>
public sealed class GraphShuffle(ProfileStore store, GraphFiles files, ShardReadGate gate)
{
    private const string IdentityMapMember = "identityMap";

    public static string JobFolder(Tenant tenant, long jobId) => $"{tenant.BlobPrefix}/pdg/job{jobId.ToString(CultureInfo.InvariantCulture)}/";

    public static string PartitionFolder(Tenant tenant, long jobId, int partition) =>
        $"{JobFolder(tenant, jobId)}p{partition.ToString("D4", CultureInfo.InvariantCulture)}/";

    /// <summary>
    /// Writes a shard's fragments of each kind asked for to the partitions of their graphs, after compacting it as an
    /// export does, through the host's <see cref="ShardReadGate"/>; returns the bytes written to each partition. The
    /// shard's rows are written in runs of at most <see cref="BytesHeld"/>, each holding only <paramref name="members"/>.
    /// </summary>
    public async Task<long[]> RouteShardAsync(Tenant tenant, long jobId, string graphs, int shard, IReadOnlyList<FragmentKind> kinds,
        string? skipBatchId, IReadOnlySet<string>? members, CancellationToken ct)
    {
        using var read = await gate.EnterAsync(ct);
        foreach (var kind in kinds) await store.CompactShardAsync(kind, tenant, shard, CompactionTrigger.BeforeRead, ct);
        var primaries = new Dictionary<Identity, Identity>();
        await foreach (var row in files.ReadAsync<PairRow>(GraphFiles.Folder(GraphFiles.Root(tenant, graphs), IdentityGraphBuilder.Map, shard), ct))
            primaries[row.Identity] = row.To;

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
                    bytes[partition] += await store.WriteFileAsync(kind, FileName(tenant, jobId, partition, shard, runs), sorted, ct);
                }
                byPartition.Clear();
                (held, runs) = (0, runs + 1);
            }
            await foreach (var row in store.ReadShardRowsAsync(kind, tenant, shard, skipBatchId, members, ct))
            {
                var identity = new Identity(row.IdentityNamespace, row.IdentityId);
                var primary = primaries.GetValueOrDefault(identity, identity);
                int partition = ShardRouter.ShardOf(primary, store.ShardCount);
                if (!byPartition.TryGetValue(partition, out var rows)) byPartition[partition] = rows = [];
                var routed = row with { IdentityNamespace = primary.Namespace, IdentityId = primary.Id, Record = row.Record.Without(IdentityMapMember) };
                rows.Add(routed);
                if ((held += routed.Record.JsonLength) >= BytesHeld) await FlushAsync();
            }
            await FlushAsync();
        }
        return bytes;
    }

    private static string FileName(Tenant tenant, long jobId, int partition, int shard, int run) =>
        $"{PartitionFolder(tenant, jobId, partition)}s{shard.ToString("D4", CultureInfo.InvariantCulture)}-{run.ToString("D4", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>Bytes of records (as JSON) a routing holds, over all partitions, before it writes them as sorted runs (one file per partition).</summary>
    private const long BytesHeld = 16 * 1024 * 1024;

    /// <summary>The graphs whose primary is of the partition: primary → its identities (the primary among them).</summary>
    public async Task<Dictionary<Identity, List<Identity>>> GraphsAsync(Tenant tenant, string graphs, int partition, CancellationToken ct)
    {
        var identities = new Dictionary<Identity, List<Identity>>();
        await foreach (var row in files.ReadAsync<PairRow>(GraphFiles.Folder(GraphFiles.Root(tenant, graphs), IdentityGraphBuilder.Graph, partition), ct))
        {
            if (!identities.TryGetValue(row.To, out var list)) identities[row.To] = list = [];
            list.Add(row.Identity);
        }
        return identities;
    }

    /// <summary>The record of the <c>identityMap</c> of a primary's graph (of itself alone when it has none).</summary>
    public static JsonElement IdentityMapOf(Identity primary, Dictionary<Identity, List<Identity>> graphs) =>
        JsonSerializer.SerializeToElement(new IdentityGraph(primary,
            graphs.TryGetValue(primary, out var identities) ? identities.Order(IdentityKey.Order).ToList() : [primary]).ToRecord());

    /// <summary>Removes a job's shuffle files of both kinds.</summary>
    public async Task DeleteAsync(Tenant tenant, long jobId, CancellationToken ct)
    {
        foreach (var kind in new[] { FragmentKind.Profile, FragmentKind.Event })
            await store.DeleteFolderAsync(kind, JobFolder(tenant, jobId), ct);
    }
}
