using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.IO.Hashing;
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

/// <summary>
/// The work of each activity of a graph build (see <see cref="IdentityGraphBuild"/> and docs/identity.md), each over one
/// partition of the build: the identities <see cref="ShardRouter"/> hashes to it among the build's partitions (one per
/// <see cref="ExportStorageOptions.GraphPartitionBytes"/> of fragment files). Every step writes the rows it sends each
/// partition to files named by its own partition and numbered, so a retry replaces what it wrote; no step holds more than
/// its partition's links. The result is written by shard, where the export's stages read it.
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
public sealed class IdentityGraphBuilder(ProfileStore store, ShardLinks shardLinks, GraphFiles files, SupersededBuilds superseded, IdentitySettingsStore settingsStore,
    ShardReadGate gate, IOptions<ExportStorageOptions> options, ILogger<IdentityGraphBuilder> log)
{
    /// <summary>Rows a stage's writer holds, over all partitions, before it writes them out, a file per partition.</summary>
    private const int RowsHeld = 100_000;

    /// <summary>Partitions a build has at most: each stage writes a file per pair of partitions.</summary>
    public const int MaxPartitions = 32;

    /// <summary>Rounds a build runs at most: a component whose links need more hops to cross fails the build (and its export), with this said.</summary>
    public const int MaxRounds = 64;

    private const string Links = "links", Adjacencies = "adjacency", Labels = "labels-", Messages = "messages-", Components = "components";
    public const string Map = "map", Graph = "graph";

    /// <summary>
    /// The form of a build's files, part of its name: a build of files of another form is not read, but made anew
    /// (3: graphs as <see cref="GraphIdentities"/>; the first form kept their <c>identityMap</c> JSON, the second the
    /// primary's place after the identities).
    /// </summary>
    private const string FilesVersion = "files 3";

    /// <summary>
    /// Names the build the tenant's data calls for: a hash of the form of its files, of the identity settings and of the runs a read of every
    /// shard would read now. Ingestion and compaction both change the runs, so a build is reused only as long as the
    /// store is as it saw it.
    /// </summary>
    public async Task<GraphBuildPlan> PrepareAsync(GraphBuildInput input, CancellationToken ct)
    {
        var settings = (await settingsStore.GetAsync(input.Tenant, ct)).Value;
        var text = new StringBuilder(FilesVersion).Append('\n').Append(JsonSerializer.Serialize(settings, CoreJson.Wire.IdentitySettings)).Append('\n');
        foreach (var kind in new[] { FragmentKind.Profile, FragmentKind.Event })
            foreach (string run in await store.ListLiveRunsAsync(kind, input.Tenant, ct))
                text.Append(kind).Append(' ').Append(run).Append('\n');
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())).AsSpan(0, 16));
        var build = files.Build(input.Tenant, key);
        bool complete = await build.ExistsAsync(GraphFiles.CompleteName, ct);
        if (complete) await superseded.KeepAsync(input.Tenant, key, ct);
        else await build.CreateAsync(ct);
        // Links are read by group of shards, as an export reads them; a partition per GraphPartitionBytes of files.
        var sizes = await store.ListShardSizesAsync([FragmentKind.Profile, FragmentKind.Event], input.Tenant, ct);
        int partitions = (int)Math.Clamp(sizes.Values.Sum() / options.Value.GraphPartitionBytes + 1, 1, MaxPartitions);
        return new GraphBuildPlan(key, complete, ShardGroups.Of(sizes, input.GroupBytes), partitions, settings);
    }

    /// <summary>
    /// An identity's fingerprint in a build: 64 bits of XxHash64 over its key, seeded by the build's attempt. Rounds
    /// compare and send fingerprints, not texts; two identities with one fingerprint make round 0 throw
    /// <see cref="FingerprintCollisionException"/>, and the build starts again with the next seed.
    /// </summary>
    public static long Fingerprint(string ns, string id, long seed)
    {
        // The UTF-8 of the identity's key (IdentityKey.Of) put together in place: a build hashes every link's identities.
        int most = Encoding.UTF8.GetMaxByteCount(ns.Length + id.Length + 1);
        byte[]? rented = null;
        Span<byte> key = most <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(most));
        int length = Encoding.UTF8.GetBytes(ns, key);
        key[length++] = 1;
        length += Encoding.UTF8.GetBytes(id, key[length..]);
        long fingerprint = (long)XxHash64.HashToUInt64(key[..length], seed);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return fingerprint;
    }

    /// <summary>Two identities of a build have the same fingerprint under its seed.</summary>
    public sealed class FingerprintCollisionException(string identity, long seed)
        : Exception($"The identity {identity} and another have the same 64-bit fingerprint under seed {seed}.");

    /// <summary>The build's partition of a fingerprint (of an identity, or of a component's label).</summary>
    private static int PartitionOf(long fingerprint, GraphTask task) => (int)((ulong)fingerprint % (ulong)task.Partitions);

    /// <summary>The run's own files (its links, adjacencies, labels, messages and components), at the root of their container.</summary>
    private GraphFiles Work(GraphTask task) => files.Work(task.Tenant, task.Key, task.RunId, task.Seed);

    /// <summary>The links of the task's shards, each sent to both its identities' partitions; returns how many.</summary>
    public Task<int> LinksAsync(GraphTask task, CancellationToken ct) => LoggedAsync("links", task, LinksPartitionAsync, ct);

    private async Task<int> LinksPartitionAsync(GraphTask task, CancellationToken ct)
    {
        var work = Work(task);
        await work.CreateAsync(ct);
        var output = new PartitionedFiles<LinkRow>(work, "", Links, task.Partition);
        int count = 0;
        foreach (int shard in task.Shards)
            await foreach (var link in shardLinks.ReadAsync(task.Tenant, shard, ct))
            {
                await output.AddAsync(PartitionOf(Fingerprint(link.A.Namespace, link.A.Id, task.Seed), task), LinkRow.Of(link.A, link.B, link), ct);
                await output.AddAsync(PartitionOf(Fingerprint(link.B.Namespace, link.B.Id, task.Seed), task), LinkRow.Of(link.B, link.A, link), ct);
                count++;
            }
        await output.FlushAsync(ct);
        return count;
    }

    /// <summary>
    /// One round on the task's partition; returns how many of its identities' labels went down (in round 0: how many it
    /// has). Held compactly: each identity once, as its fingerprint, its neighbours as indexes; a label is the smallest
    /// fingerprint of the component seen so far.
    /// </summary>
    public Task<int> RoundAsync(GraphTask task, CancellationToken ct) => LoggedAsync("round", task, RoundPartitionAsync, ct);

    private async Task<int> RoundPartitionAsync(GraphTask task, CancellationToken ct)
    {
        if (task.Round >= MaxRounds)
            throw new InvalidOperationException($"The identity links hold a component whose identities are more than {MaxRounds} links apart; the graphs were not built.");
        var work = Work(task);
        var graph = await AdjacencyAsync(task, ct);

        // Round 0: each identity is its own label, and every one is sent.
        var labels = task.Round == 0 ? graph.Keys[..graph.Nodes] : await work.ReadFileAsync(GraphFiles.BinaryName("", Labels + (task.Round - 1), task.Partition), Longs.Read, ct);
        var lowered = task.Round == 0 ? Enumerable.Range(0, graph.Nodes).ToList() : [];
        if (task.Round > 0)
        {
            var wasLowered = new bool[graph.Nodes];
            foreach (string name in (await work.ListFolderAsync(GraphFiles.Folder("", Messages + task.Round, task.Partition), ct)).Names)
            {
                var message = await work.ReadFileAsync(name, Longs.Read, ct);
                for (int i = 0; i < message.Length; i += 2)
                    if (graph.Index.TryGetValue(message[i], out int node) && node < graph.Nodes && message[i + 1] < labels[node])
                    {
                        labels[node] = message[i + 1];
                        if (!wasLowered[node]) lowered.Add(node);
                        wasLowered[node] = true;
                    }
            }
        }

        await Longs.WriteAsync(work, GraphFiles.BinaryName("", Labels + task.Round, task.Partition), labels, ct);
        // Each neighbour is sent the smallest label only (several of its neighbours may send it one).
        var sent = new Dictionary<int, long>();
        foreach (int node in lowered)
            for (int e = graph.Offsets[node]; e < graph.Offsets[node + 1]; e++)
                if (!sent.TryGetValue(graph.Targets[e], out long least) || labels[node] < least) sent[graph.Targets[e]] = labels[node];
        var messages = new Dictionary<int, List<long>>();
        foreach (var (neighbour, label) in sent)
        {
            long key = graph.Keys[neighbour];
            int partition = PartitionOf(key, task);
            if (!messages.TryGetValue(partition, out var list)) messages[partition] = list = [];
            list.Add(key);
            list.Add(label);
        }
        foreach (var (partition, list) in messages)
            await Longs.WriteAsync(work, GraphFiles.BinaryName("", Messages + (task.Round + 1), partition, task.Partition), list.ToArray(), ct);
        return lowered.Count;
    }

    /// <summary>
    /// A partition's links as an adjacency: its identities' fingerprints first (indexes below <see cref="Adjacency.Nodes"/>),
    /// then those of the other identities they link to; each identity's neighbours are
    /// <c>Targets[Offsets[i]..Offsets[i + 1]]</c>. Built from the links in round 0 and kept as a file of its own, which the
    /// later rounds and the grouping read instead of the links.
    /// </summary>
    private sealed record Adjacency(Dictionary<long, int> Index, long[] Keys, int Nodes, int[] Offsets, int[] Targets)
    {
        public Task WriteAsync(GraphFiles work, string name, CancellationToken ct) =>
            work.WriteFileAsync(name, writer =>
            {
                writer.Write(Keys.Length);
                foreach (long key in Keys) writer.Write(key);
                writer.Write(Nodes);
                foreach (int offset in Offsets) writer.Write(offset);
                writer.Write(Targets.Length);
                foreach (int target in Targets) writer.Write(target);
            }, ct);

        public static Adjacency Read(BinaryReader reader)
        {
            var keys = new long[reader.ReadInt32()];
            for (int i = 0; i < keys.Length; i++) keys[i] = reader.ReadInt64();
            int nodes = reader.ReadInt32();
            var offsets = new int[nodes + 1];
            for (int i = 0; i <= nodes; i++) offsets[i] = reader.ReadInt32();
            var targets = new int[reader.ReadInt32()];
            for (int i = 0; i < targets.Length; i++) targets[i] = reader.ReadInt32();
            var index = new Dictionary<long, int>(keys.Length);
            for (int i = 0; i < keys.Length; i++) index[keys[i]] = i;
            return new Adjacency(index, keys, nodes, offsets, targets);
        }
    }

    private async Task<Adjacency> AdjacencyAsync(GraphTask task, CancellationToken ct)
    {
        var work = Work(task);
        string name = GraphFiles.BinaryName("", Adjacencies, task.Partition);
        if (task.Round > 0) return await work.ReadFileAsync(name, Adjacency.Read, ct);
        var index = new Dictionary<long, int>();
        var keys = new List<long>();
        var from = new List<int>();
        var to = new List<int>();
        int IndexOf(long key)
        {
            if (index.TryGetValue(key, out int i)) return i;
            index[key] = keys.Count;
            keys.Add(key);
            return keys.Count - 1;
        }
        // The partition holds every identity of its fingerprints, so one fingerprint of two identities shows here.
        var named = new Dictionary<long, (string Ns, string Id)>();
        var targets = new List<long>();
        await foreach (var link in work.ReadAsync<LinkRow>(GraphFiles.Folder("", Links, task.Partition), ct))
        {
            long key = Fingerprint(link.Ns, link.Id, task.Seed);
            if (!named.TryAdd(key, (link.Ns, link.Id)) && named[key] != (link.Ns, link.Id)) throw new FingerprintCollisionException($"{link.Ns}:{link.Id}", task.Seed);
            from.Add(IndexOf(key));
            targets.Add(Fingerprint(link.ToNs, link.ToId, task.Seed));
        }
        named.Clear();
        int nodes = keys.Count;
        foreach (long target in targets) to.Add(IndexOf(target));
        var offsets = new int[nodes + 1];
        foreach (int f in from) offsets[f + 1]++;
        for (int i = 0; i < nodes; i++) offsets[i + 1] += offsets[i];
        var edges = new int[from.Count];
        var next = offsets[..^1].ToArray();
        for (int e = 0; e < from.Count; e++) edges[next[from[e]]++] = to[e];
        var adjacency = new Adjacency(index, [.. keys], nodes, offsets, edges);
        await adjacency.WriteAsync(work, name, ct);
        return adjacency;
    }

    /// <summary>
    /// Sends each link of the partition, once (from its smaller identity), to the partition of its component's label (of
    /// round <see cref="GraphTask.Round"/>, the last); returns how many it sent.
    /// </summary>
    public Task<int> GroupAsync(GraphTask task, CancellationToken ct) => LoggedAsync("grouping", task, GroupPartitionAsync, ct);

    private async Task<int> GroupPartitionAsync(GraphTask task, CancellationToken ct)
    {
        var work = Work(task);
        var graph = await AdjacencyAsync(task, ct);
        var labels = await work.ReadFileAsync(GraphFiles.BinaryName("", Labels + task.Round, task.Partition), Longs.Read, ct);
        var output = new PartitionedFiles<ComponentLinkRow>(work, "", Components, task.Partition);
        int count = 0;
        await foreach (var link in work.ReadAsync<LinkRow>(GraphFiles.Folder("", Links, task.Partition), ct))
        {
            if (IdentityKey.Compare(link.Ns, link.Id, link.ToNs, link.ToId) > 0) continue;
            long label = labels[graph.Index[Fingerprint(link.Ns, link.Id, task.Seed)]];
            await output.AddAsync(PartitionOf(label, task), new ComponentLinkRow(label, link), ct);
            count++;
        }
        await output.FlushAsync(ct);
        return count;
    }

    /// <summary>
    /// The rules on each component of the partition, the result written by shard: identity → primary by the identity's
    /// (for identities that are not their graph's primary), the graph (its primary and <c>identityMap</c>) by its primary's. Returns how many graphs of more than one identity it made.
    /// </summary>
    /// <remarks>
    /// Through the gate's <c>pdg</c> reads (<see cref="ShardReadGate.EnterStitchedAsync"/>): a rules activity holds its
    /// partition's components as objects, and four at once made the build's peak (521-525 MB at N = 1,000,000).
    /// </remarks>
    public Task<int> RulesAsync(GraphTask task, CancellationToken ct) => LoggedAsync("rules", task, RulesPartitionAsync, ct, stitched: true);

    private async Task<int> RulesPartitionAsync(GraphTask task, CancellationToken ct)
    {
        var settings = task.Settings ?? IdentitySettings.Default;
        // Each identity's strings once, however many links it has.
        var known = new Dictionary<(string Ns, string Id), Identity>();
        Identity Known(string ns, string id)
        {
            if (!known.TryGetValue((ns, id), out var identity)) known[(ns, id)] = identity = new Identity(ns, id);
            return identity;
        }
        var components = new Dictionary<long, List<IdentityLink>>();
        await foreach (var row in Work(task).ReadAsync<ComponentLinkRow>(GraphFiles.Folder("", Components, task.Partition), ct))
            Add(components, row.Label, new IdentityLink(Known(row.Link.Ns, row.Link.Id), Known(row.Link.ToNs, row.Link.ToId), row.Link.Time, row.Link.Order));
        known.Clear();

        var build = files.Build(task.Tenant, task.Key);
        var map = new PartitionedFiles<PairRow>(build, "", Map, task.Partition);
        var graphs = new PartitionedFiles<GraphRow>(build, "", Graph, task.Partition);
        int stitched = 0;
        foreach (var links in components.Values)
            foreach (var graph in IdentityGraphs.Build(links, [], settings))
            {
                if (graph.Identities.Count < 2) continue;
                stitched++;
                await graphs.AddAsync(ShardRouter.ShardOf(graph.Primary, store.ShardCount), new GraphRow(graph.Primary, GraphIdentities.Encode(graph)), ct);
                foreach (var identity in graph.Identities)
                    if (identity != graph.Primary) await map.AddAsync(ShardRouter.ShardOf(identity, store.ShardCount), new PairRow(identity, graph.Primary), ct);
            }
        await map.FlushAsync(ct);
        await graphs.FlushAsync(ct);
        return stitched;
    }

    /// <summary>A stage's work on one partition, through the host's shard-read gate, logged with its count and time.</summary>
    private async Task<int> LoggedAsync(string stage, GraphTask task, Func<GraphTask, CancellationToken, Task<int>> run, CancellationToken ct, bool stitched = false)
    {
        using var read = stitched ? await gate.EnterStitchedAsync(ct) : await gate.EnterAsync(ct);
        var watch = Stopwatch.StartNew();
        int count = await run(task, ct);
        log.LogInformation("Identity graph build {Key} of {Org}/{Sandbox}: {Stage} of partition {Partition} (round {Round}): {Count} in {Ms} ms",
            task.Key, task.OrgId, task.Sandbox, stage, task.Partition, task.Round, count, watch.ElapsedMilliseconds);
        return count;
    }

    private static void Add<TKey, T>(Dictionary<TKey, List<T>> lists, TKey key, T item) where TKey : notnull
    {
        if (!lists.TryGetValue(key, out var list)) lists[key] = list = [];
        list.Add(item);
    }

    /// <summary>
    /// The rows one writer sends to the partitions of a set, held until <see cref="RowsHeld"/> of them, then written a
    /// file per partition: the writer's files of a partition are numbered in order, so a retry, which sends the same rows
    /// in the same order, writes the same files.
    /// </summary>
    private sealed class PartitionedFiles<T>(GraphFiles files, string root, string set, int writer) where T : IGraphRow<T>
    {
        private readonly Dictionary<int, List<T>> _pending = [];
        private readonly Dictionary<int, int> _written = [];
        private int _held;

        public async Task AddAsync(int partition, T row, CancellationToken ct)
        {
            if (!_pending.TryGetValue(partition, out var rows)) _pending[partition] = rows = [];
            rows.Add(row);
            if (++_held >= RowsHeld) await FlushAsync(ct);
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            foreach (var (partition, rows) in _pending.Where(p => p.Value.Count > 0).OrderBy(p => p.Key))
            {
                int file = _written.GetValueOrDefault(partition);
                await files.WriteAsync(GraphFiles.Name(root, set, partition, writer, file), rows, ct);
                _written[partition] = file + 1;
            }
            _pending.Clear();
            _held = 0;
        }
    }

    /// <summary>
    /// Marks the build whole (exports of the same data use it from then on), removes the run's work files, and retires
    /// the tenant's other builds (<see cref="SupersededBuilds"/>).
    /// </summary>
    public async Task<bool> CompleteAsync(GraphTask task, CancellationToken ct)
    {
        await files.Build(task.Tenant, task.Key).MarkAsync(GraphFiles.CompleteName, ct);
        await Work(task).DeleteAsync(ct);
        int deleted = await superseded.RetireOthersAsync(task.Tenant, task.Key, ct);
        log.LogInformation("Identity graph build {Key} of {Org}/{Sandbox} complete ({Deleted} superseded builds deleted)", task.Key, task.OrgId, task.Sandbox, deleted);
        return true;
    }

    /// <summary>Removes the work files of a run that did not complete.</summary>
    public async Task<bool> AbandonAsync(GraphTask task, CancellationToken ct)
    {
        await Work(task).DeleteAsync(ct);
        return true;
    }
}
