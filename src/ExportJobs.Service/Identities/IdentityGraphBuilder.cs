using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Identities;

/// <summary>A link with the label of its component, as the rules stage reads it.</summary>
public sealed class ComponentLinkRow
{
    public string LabelNs { get; set; } = "";
    public string LabelId { get; set; } = "";
    public string Ns { get; set; } = "";
    public string Id { get; set; } = "";
    public string ToNs { get; set; } = "";
    public string ToId { get; set; } = "";
    public long Time { get; set; }
    public long Order { get; set; }
}

/// <summary>
/// The work of each activity of a graph build (see <see cref="IdentityGraphBuild"/> and docs/identity.md), each over one
/// partition of the build: the identities <see cref="ShardRouter"/> hashes to it among the build's partitions (one per
/// <see cref="ExportStorageOptions.GraphPartitionBytes"/> of fragment files). Every step writes one file per partition it sends rows to, named by its own partition, so a retry
/// replaces what it wrote; no step holds more than its partition's links. The result is written by shard, where the
/// export's stages read it.
/// <list type="number">
/// <item><see cref="LinksAsync"/>: a group of shards' links (<see cref="ShardLinks"/>), each sent to both its identities' partitions.</item>
/// <item><see cref="RoundAsync"/>: connected components by rounds of smallest-label propagation ("hash-to-min"): each
/// identity takes the smallest label among its own and those its neighbours sent, and sends a label that went down to
/// its neighbours; a round that lowers none ends them (as many rounds as the longest shortest path of a component).</item>
/// <item><see cref="GroupAsync"/>: each link, once, to the partition of its component's label.</item>
/// <item><see cref="RulesAsync"/>: the linking rules on each component (<see cref="IdentityGraphs.Build"/>); the result,
/// identity → primary and primary → identities, where exports read it.</item>
/// </list>
/// </summary>
public sealed class IdentityGraphBuilder(ProfileStore store, ShardLinks shardLinks, GraphFiles files, IdentitySettingsStore settingsStore,
    IOptions<ExportStorageOptions> options, ILogger<IdentityGraphBuilder> log)
{
    /// <summary>Partitions a build has at most: each stage writes a file per pair of partitions.</summary>
    public const int MaxPartitions = 32;

    /// <summary>Rounds a build runs at most: a component whose links need more hops to cross fails the build (and its export), with this said.</summary>
    public const int MaxRounds = 64;

    private const string Links = "links", Labels = "labels-", Messages = "messages-", Components = "components";
    public const string Map = "map", Graph = "graph";

    /// <summary>
    /// Names the build the tenant's data calls for: a hash of the identity settings and of the runs a read of every
    /// shard would read now. Ingestion and compaction both change the runs, so a build is reused only as long as the
    /// store is as it saw it.
    /// </summary>
    public async Task<GraphBuildPlan> PrepareAsync(GraphBuildInput input, CancellationToken ct)
    {
        var settings = (await settingsStore.GetAsync(input.Tenant, ct)).Value;
        var text = new StringBuilder(JsonSerializer.Serialize(settings, CoreJson.Wire.IdentitySettings)).Append('\n');
        foreach (var kind in new[] { FragmentKind.Profile, FragmentKind.Event })
            foreach (string run in await store.ListLiveRunsAsync(kind, input.Tenant, ct))
                text.Append(kind).Append(' ').Append(run).Append('\n');
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())).AsSpan(0, 16));
        bool complete = await files.ExistsAsync(GraphFiles.Root(input.Tenant, key) + GraphFiles.CompleteName, ct);
        // Links are read by group of shards, as an export reads them; a partition per GraphPartitionBytes of files.
        var sizes = await store.ListShardSizesAsync(FragmentKind.Profile, input.Tenant, ct);
        foreach (var (shard, bytes) in await store.ListShardSizesAsync(FragmentKind.Event, input.Tenant, ct)) sizes[shard] = sizes.GetValueOrDefault(shard) + bytes;
        int partitions = (int)Math.Clamp(sizes.Values.Sum() / options.Value.GraphPartitionBytes + 1, 1, MaxPartitions);
        return new GraphBuildPlan(key, complete, ShardGroups.Of(sizes, input.GroupBytes), partitions, settings);
    }

    /// <summary>The build's partition of an identity (not its shard: a build has as many partitions as activities).</summary>
    private static int PartitionOf(Identity identity, GraphTask task) => ShardRouter.ShardOf(identity, task.Partitions);

    /// <summary>Writes each partition's rows to its file of this set from this writer; a partition with none gets no file.</summary>
    private async Task WriteAsync<T>(string root, string set, int writer, Dictionary<int, List<T>> byPartition, CancellationToken ct) where T : class, new()
    {
        foreach (var (partition, rows) in byPartition)
            if (rows.Count > 0) await files.WriteAsync(GraphFiles.Name(root, set, partition, writer), rows, ct);
    }

    private static string Work(GraphTask task) => $"{GraphFiles.Root(task.Tenant, task.Key)}work/{task.RunId}/";

    /// <summary>The links of the task's shards, each sent to both its identities' partitions; returns how many.</summary>
    public async Task<int> LinksAsync(GraphTask task, CancellationToken ct)
    {
        var byPartition = new Dictionary<int, List<LinkRow>>();
        void Send(Identity from, Identity to, IdentityLink link) =>
            Add(byPartition, PartitionOf(from, task), new LinkRow { Ns = from.Namespace, Id = from.Id, ToNs = to.Namespace, ToId = to.Id, Time = link.IngestTimeMs, Order = link.Order });
        int count = 0;
        foreach (int shard in task.Shards)
            await foreach (var link in shardLinks.ReadAsync(task.Tenant, shard, ct))
            {
                Send(link.A, link.B, link);
                Send(link.B, link.A, link);
                count++;
            }
        await WriteAsync(Work(task), Links, task.Partition, byPartition, ct);
        return count;
    }

    /// <summary>One round on the task's partition; returns how many of its identities' labels went down (in round 0: how many it has).</summary>
    public async Task<int> RoundAsync(GraphTask task, CancellationToken ct)
    {
        if (task.Round >= MaxRounds)
            throw new InvalidOperationException($"The identity links hold a component whose identities are more than {MaxRounds} links apart; the graphs were not built.");
        string work = Work(task);
        var neighbours = new Dictionary<Identity, List<Identity>>();
        await foreach (var link in files.ReadAsync<LinkRow>(GraphFiles.Folder(work, Links, task.Partition), ct))
            Add(neighbours, new Identity(link.Ns, link.Id), new Identity(link.ToNs, link.ToId));

        var labels = new Dictionary<Identity, Identity>();
        var lowered = new HashSet<Identity>();
        if (task.Round == 0)
        {
            foreach (var node in neighbours.Keys) labels[node] = node;
            lowered.UnionWith(neighbours.Keys);
        }
        else
        {
            await foreach (var row in files.ReadAsync<PairRow>(GraphFiles.Folder(work, Labels + (task.Round - 1), task.Partition), ct))
                labels[row.Identity] = row.To;
            await foreach (var message in files.ReadAsync<PairRow>(GraphFiles.Folder(work, Messages + task.Round, task.Partition), ct))
                if (labels.TryGetValue(message.Identity, out var label) && IdentityKey.Compare(message.To, label) < 0)
                {
                    labels[message.Identity] = message.To;
                    lowered.Add(message.Identity);
                }
        }

        await files.WriteAsync(GraphFiles.Name(work, Labels + task.Round, task.Partition, 0), labels.Select(l => PairRow.Of(l.Key, l.Value)).ToList(), ct);
        // Each neighbour is sent the smallest label only (several of its neighbours may send it one).
        var sent = new Dictionary<Identity, Identity>();
        foreach (var node in lowered)
            foreach (var neighbour in neighbours[node])
                if (!sent.TryGetValue(neighbour, out var least) || IdentityKey.Compare(labels[node], least) < 0) sent[neighbour] = labels[node];
        var byPartition = new Dictionary<int, List<PairRow>>();
        foreach (var (neighbour, label) in sent) Add(byPartition, PartitionOf(neighbour, task), PairRow.Of(neighbour, label));
        await WriteAsync(work, Messages + (task.Round + 1), task.Partition, byPartition, ct);
        return lowered.Count;
    }

    /// <summary>
    /// Sends each link of the partition, once (from its smaller identity), to the partition of its component's label (of
    /// round <see cref="GraphTask.Round"/>, the last); returns how many it sent.
    /// </summary>
    public async Task<int> GroupAsync(GraphTask task, CancellationToken ct)
    {
        string work = Work(task);
        var labels = new Dictionary<Identity, Identity>();
        await foreach (var row in files.ReadAsync<PairRow>(GraphFiles.Folder(work, Labels + task.Round, task.Partition), ct))
            labels[row.Identity] = row.To;
        var byPartition = new Dictionary<int, List<ComponentLinkRow>>();
        int count = 0;
        await foreach (var link in files.ReadAsync<LinkRow>(GraphFiles.Folder(work, Links, task.Partition), ct))
        {
            var from = new Identity(link.Ns, link.Id);
            if (IdentityKey.Compare(from, new Identity(link.ToNs, link.ToId)) > 0) continue;
            var label = labels[from];
            Add(byPartition, PartitionOf(label, task), new ComponentLinkRow
            {
                LabelNs = label.Namespace, LabelId = label.Id, Ns = link.Ns, Id = link.Id, ToNs = link.ToNs, ToId = link.ToId, Time = link.Time, Order = link.Order,
            });
            count++;
        }
        await WriteAsync(work, Components, task.Partition, byPartition, ct);
        return count;
    }

    /// <summary>
    /// The rules on each component of the partition, the result written by shard: identity → primary by the identity's,
    /// the graph by its primary's. Returns how many graphs of more than one identity it made.
    /// </summary>
    public async Task<int> RulesAsync(GraphTask task, CancellationToken ct)
    {
        var settings = task.Settings ?? IdentitySettings.Default;
        var components = new Dictionary<Identity, List<IdentityLink>>();
        await foreach (var row in files.ReadAsync<ComponentLinkRow>(GraphFiles.Folder(Work(task), Components, task.Partition), ct))
            Add(components, new Identity(row.LabelNs, row.LabelId), new IdentityLink(new Identity(row.Ns, row.Id), new Identity(row.ToNs, row.ToId), row.Time, row.Order));

        var map = new Dictionary<int, List<PairRow>>();
        var graphs = new Dictionary<int, List<PairRow>>();
        int stitched = 0;
        foreach (var links in components.Values)
            foreach (var graph in IdentityGraphs.Build(links, [], settings))
            {
                if (graph.Identities.Count < 2) continue;
                stitched++;
                foreach (var identity in graph.Identities)
                {
                    var row = PairRow.Of(identity, graph.Primary);
                    Add(graphs, ShardRouter.ShardOf(graph.Primary, store.ShardCount), row);
                    if (identity != graph.Primary) Add(map, ShardRouter.ShardOf(identity, store.ShardCount), row);
                }
            }
        string root = GraphFiles.Root(task.Tenant, task.Key);
        await WriteAsync(root, Map, task.Partition, map, ct);
        await WriteAsync(root, Graph, task.Partition, graphs, ct);
        return stitched;
    }

    private static void Add<TKey, T>(Dictionary<TKey, List<T>> lists, TKey key, T item) where TKey : notnull
    {
        if (!lists.TryGetValue(key, out var list)) lists[key] = list = [];
        list.Add(item);
    }

    /// <summary>Marks the build whole (exports of the same data use it from then on) and removes the run's work files.</summary>
    public async Task<bool> CompleteAsync(GraphTask task, CancellationToken ct)
    {
        await files.MarkAsync(GraphFiles.Root(task.Tenant, task.Key) + GraphFiles.CompleteName, ct);
        await files.DeleteFolderAsync(Work(task), ct);
        log.LogInformation("Identity graph build {Key} of {Org}/{Sandbox} complete", task.Key, task.OrgId, task.Sandbox);
        return true;
    }

    /// <summary>Removes the work files of a run that did not complete.</summary>
    public async Task<bool> AbandonAsync(GraphTask task, CancellationToken ct)
    {
        await files.DeleteFolderAsync(Work(task), ct);
        return true;
    }
}
