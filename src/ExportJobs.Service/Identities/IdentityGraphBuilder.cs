using System.Diagnostics;
using System.Runtime.InteropServices;
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
/// partition of the build: the identities whose fingerprints fall in it among the build's partitions (one per
/// <see cref="ExportStorageOptions.GraphRoundPartitionBytes"/> of fragment files), or in the rules stage the components
/// whose labels do (one per <see cref="ExportStorageOptions.GraphPartitionBytes"/>). Every step writes the rows it sends each
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
    /// <summary>Bytes of rows a stage's writer holds, over all partitions, before it writes them out, a file per partition.</summary>
    private const long BytesHeld = 8 * 1024 * 1024;

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
        var sizes = new SortedDictionary<int, long>();
        foreach (var kind in new[] { FragmentKind.Profile, FragmentKind.Event })
        {
            var (runs, kindSizes) = await store.ListLiveRunsAsync(kind, input.Tenant, ct);
            foreach (string run in runs) text.Append(kind).Append(' ').Append(run).Append('\n');
            foreach (var (shard, bytes) in kindSizes) sizes[shard] = sizes.GetValueOrDefault(shard) + bytes;
        }
        string key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())).AsSpan(0, 16));
        var build = files.Build(input.Tenant, key);
        bool complete = await build.ExistsAsync(GraphFiles.CompleteName, ct);
        if (complete) await superseded.KeepAsync(input.Tenant, key, ct);
        else await build.CreateAsync(ct);
        // Links are read by group of shards, as an export reads them; a partition of identities (links, rounds,
        // grouping) per GraphRoundPartitionBytes of files, a partition of components (rules) per GraphPartitionBytes.
        int PartitionsOf(long bytes) => (int)Math.Clamp(sizes.Values.Sum() / bytes + 1, 1, MaxPartitions);
        return new GraphBuildPlan(key, complete, ShardGroups.Of(sizes, input.GroupBytes), PartitionsOf(options.Value.GraphRoundPartitionBytes),
            PartitionsOf(options.Value.GraphPartitionBytes), settings);
    }

    /// <summary>
    /// An identity's fingerprint in a build: 64 bits of XxHash64 over its key, seeded by the build's attempt. Rounds
    /// compare and send fingerprints, not texts; two identities with one fingerprint make round 0 throw
    /// <see cref="FingerprintCollisionException"/>, and the build starts again with the next seed.
    /// </summary>
    public static long Fingerprint(string ns, string id, long seed)
    {
        int most = Encoding.UTF8.GetMaxByteCount(id.Length);
        byte[]? rented = null;
        Span<byte> utf8 = most <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(most));
        long fingerprint = Fingerprint(ns, utf8[..Encoding.UTF8.GetBytes(id, utf8)], seed);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return fingerprint;
    }

    /// <summary>As <see cref="Fingerprint(string, string, long)"/>, the id as UTF-8 (as a build's files hold it).</summary>
    public static long Fingerprint(string ns, ReadOnlySpan<byte> id, long seed)
    {
        // The UTF-8 of the identity's key (IdentityKey.Of) put together in place: a build hashes every link's identities.
        int most = Encoding.UTF8.GetMaxByteCount(ns.Length) + 1 + id.Length;
        byte[]? rented = null;
        Span<byte> key = most <= 512 ? stackalloc byte[512] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(most));
        int length = Encoding.UTF8.GetBytes(ns, key);
        key[length++] = 1;
        id.CopyTo(key[length..]);
        long fingerprint = (long)XxHash64.HashToUInt64(key[..(length + id.Length)], seed);
        if (rented is not null) System.Buffers.ArrayPool<byte>.Shared.Return(rented);
        return fingerprint;
    }

    /// <summary>Two identities of a build have the same fingerprint under its seed.</summary>
    public sealed class FingerprintCollisionException(long fingerprint, long seed)
        : Exception($"Two identities have the same 64-bit fingerprint, {fingerprint:x16}, under seed {seed}.");

    /// <summary>The partition of a fingerprint (an identity's, or a component's label) among <paramref name="partitions"/>.</summary>
    private static int PartitionOf(long fingerprint, int partitions) => (int)((ulong)fingerprint % (ulong)partitions);

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
                await output.AddAsync(PartitionOf(Fingerprint(link.A.Namespace, link.A.Id, task.Seed), task.Partitions), LinkRow.Of(link.A, link.B, link), ct);
                await output.AddAsync(PartitionOf(Fingerprint(link.B.Namespace, link.B.Id, task.Seed), task.Partitions), LinkRow.Of(link.B, link.A, link), ct);
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
                    if (graph.NodeOf(message[i]) is >= 0 and var node && message[i + 1] < labels[node])
                    {
                        labels[node] = message[i + 1];
                        if (!wasLowered[node]) lowered.Add(node);
                        wasLowered[node] = true;
                    }
            }
        }

        await Longs.WriteAsync(work, GraphFiles.BinaryName("", Labels + task.Round, task.Partition), labels, ct);
        // Each neighbour is sent the smallest label only (several of its neighbours may send it one); then each
        // partition's pairs, in neighbour order, in an array of their number.
        var least = new long[graph.Keys.Length];
        var reached = new bool[graph.Keys.Length];
        var counts = new int[task.Partitions];
        foreach (int node in lowered)
            for (int e = graph.Offsets[node]; e < graph.Offsets[node + 1]; e++)
            {
                int target = graph.Targets[e];
                if (reached[target])
                {
                    least[target] = Math.Min(least[target], labels[node]);
                    continue;
                }
                (reached[target], least[target]) = (true, labels[node]);
                counts[PartitionOf(graph.Keys[target], task.Partitions)]++;
            }
        var messages = counts.Select(count => new long[2 * count]).ToArray();
        var filled = new int[task.Partitions];
        for (int target = 0; target < reached.Length; target++)
            if (reached[target])
            {
                int partition = PartitionOf(graph.Keys[target], task.Partitions);
                messages[partition][filled[partition]++] = graph.Keys[target];
                messages[partition][filled[partition]++] = least[target];
            }
        for (int partition = 0; partition < messages.Length; partition++)
            if (messages[partition].Length > 0)
                await Longs.WriteAsync(work, GraphFiles.BinaryName("", Messages + (task.Round + 1), partition, task.Partition), messages[partition], ct);
        return lowered.Count;
    }

    /// <summary>
    /// A partition's links as an adjacency: its identities' fingerprints in order (indexes below <see cref="Nodes"/>),
    /// then, in order, those of the other partitions' identities they link to; each identity's neighbours are
    /// <c>Targets[Offsets[i]..Offsets[i + 1]]</c>. Built from the links in round 0 and kept as a file of its own, which the
    /// later rounds and the grouping read instead of the links. Found by binary search: with a dictionary (and the lists
    /// that built it), four rounds of 375,000 identities at once peaked about 200 MB higher.
    /// </summary>
    internal sealed record Adjacency(long[] Keys, int Nodes, int[] Offsets, int[] Targets)
    {
        /// <summary>The index of the partition's identity of a fingerprint; -1 when none of its identities has it.</summary>
        public int NodeOf(long key) => Array.BinarySearch(Keys, 0, Nodes, key) is >= 0 and var node ? node : -1;

        private int IndexOf(long key) => NodeOf(key) is >= 0 and var node ? node : Array.BinarySearch(Keys, Nodes, Keys.Length - Nodes, key);

        /// <summary>
        /// The adjacency of links from identity <c>from[i]</c> to <c>to[i]</c> (fingerprints); <c>checks[i]</c> is the
        /// first identity's fingerprint under another seed, so two identities of one fingerprint show as two checks.
        /// Round 0 builds it where the build's memory is highest, so it takes <paramref name="checks"/>' items as room
        /// of its own (sorted with the identities, then the other partitions' identities in their place) rather than
        /// arrays or a set more the size of the links.
        /// </summary>
        public static Adjacency Of(List<long> from, List<long> to, List<long> checks, long seed)
        {
            if (to.Count != from.Count || checks.Count != from.Count) throw new ArgumentException("A link has one identity, one target and one check.", nameof(checks));
            var nodes = from.ToArray();
            var room = CollectionsMarshal.AsSpan(checks);
            nodes.AsSpan().Sort(room);
            int count = 0;
            for (int i = 0; i < nodes.Length; i++)
            {
                if (count > 0 && nodes[i] == nodes[count - 1])
                {
                    if (room[i] != room[count - 1]) throw new FingerprintCollisionException(nodes[i], seed);
                    continue;
                }
                (nodes[count], room[count]) = (nodes[i], room[i]);
                count++;
            }
            int others = 0;
            foreach (long key in CollectionsMarshal.AsSpan(to))
                if (Array.BinarySearch(nodes, 0, count, key) < 0) room[others++] = key;
            room[..others].Sort();
            int distinct = 0;
            for (int i = 0; i < others; i++)
                if (distinct == 0 || room[i] != room[distinct - 1]) room[distinct++] = room[i];
            var keys = new long[count + distinct];
            nodes.AsSpan(0, count).CopyTo(keys);
            room[..distinct].CopyTo(keys.AsSpan(count));
            var adjacency = new Adjacency(keys, count, new int[count + 1], new int[from.Count]);
            // Each link's identity is searched for twice, to count and to place it, rather than kept in an array more.
            foreach (long key in CollectionsMarshal.AsSpan(from)) adjacency.Offsets[adjacency.NodeOf(key) + 1]++;
            for (int i = 0; i < count; i++) adjacency.Offsets[i + 1] += adjacency.Offsets[i];
            var next = adjacency.Offsets[..^1];
            for (int e = 0; e < from.Count; e++) adjacency.Targets[next[adjacency.NodeOf(from[e])]++] = adjacency.IndexOf(to[e]);
            return adjacency;
        }

        public Task WriteAsync(GraphFiles work, string name, CancellationToken ct) =>
            work.WriteFileAsync(name, writer =>
            {
                writer.Write(Keys.Length);
                writer.Write(MemoryMarshal.AsBytes(Keys.AsSpan()));
                writer.Write(Nodes);
                writer.Write(MemoryMarshal.AsBytes(Offsets.AsSpan()));
                writer.Write(Targets.Length);
                writer.Write(MemoryMarshal.AsBytes(Targets.AsSpan()));
            }, ct);

        /// <summary>An adjacency file; one of an earlier form, whose identities were in the order first seen, is refused (a build running across the upgrade fails).</summary>
        public static Adjacency Read(BinaryReader reader)
        {
            var keys = new long[reader.ReadInt32()];
            reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(keys.AsSpan()));
            int nodes = reader.ReadInt32();
            var offsets = new int[nodes + 1];
            reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(offsets.AsSpan()));
            var targets = new int[reader.ReadInt32()];
            reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(targets.AsSpan()));
            for (int i = 1; i < keys.Length; i++)
                if (i != nodes && keys[i] <= keys[i - 1]) throw new InvalidDataException("A graph build's adjacency file is not in fingerprint order (written by an earlier build).");
            return new Adjacency(keys, nodes, offsets, targets);
        }
    }

    private async Task<Adjacency> AdjacencyAsync(GraphTask task, CancellationToken ct)
    {
        var work = Work(task);
        string name = GraphFiles.BinaryName("", Adjacencies, task.Partition);
        if (task.Round > 0) return await work.ReadFileAsync(name, Adjacency.Read, ct);
        var adjacency = await LinkedAsync(work, task, ct);
        await adjacency.WriteAsync(work, name, ct);
        return adjacency;
    }

    /// <summary>
    /// Round 0's adjacency, from the partition's links. A method of its own so that the link lists it builds from (three
    /// longs a link) are let go when it returns: as locals of <see cref="AdjacencyAsync"/>, they lived through the
    /// adjacency's write, at the start of round 0, where the build's memory is highest.
    /// </summary>
    private static async Task<Adjacency> LinkedAsync(GraphFiles work, GraphTask task, CancellationToken ct)
    {
        var (names, bytes) = await work.ListFolderAsync(GraphFiles.Folder("", Links, task.Partition), ct);
        var links = new LinkFingerprints(bytes, task.Seed);
        await foreach (var file in work.HoldAllAsync(names, ct)) links.Read(file);
        return Adjacency.Of(links.From, links.To, links.Checks, task.Seed);
    }

    /// <summary>
    /// Round 0's fingerprints of a partition's links, read in place from its files (no row object, no string of an id),
    /// the lists sized once, from the first file's rows per byte: grown by doubling from empty, they were the build's
    /// largest large-object allocations (372 MB in 15 s of an allocation trace at N = 1,000,000), at the start of round
    /// 0, where its memory is highest.
    /// </summary>
    private sealed class LinkFingerprints(long folderBytes, long seed)
    {
        public List<long> From { get; } = [];
        public List<long> To { get; } = [];
        public List<long> Checks { get; } = [];

        public void Read(GraphFiles.PooledFile file)
        {
            using var binary = file.Reader();
            var reader = new GraphRowReader(binary);
            int rows = binary.ReadInt32();
            if (From.Capacity == 0 && rows > 0)
                foreach (var list in new[] { From, To, Checks }) list.EnsureCapacity(file.RowsIn(folderBytes));
            for (; rows > 0; rows--)
            {
                LinkRow.ReadIdentities(reader, out string ns, out var id, out string toNs, out var toId);
                From.Add(Fingerprint(ns, id, seed));
                Checks.Add(Fingerprint(ns, id, ~seed));
                To.Add(Fingerprint(toNs, toId, seed));
            }
        }
    }

    /// <summary>
    /// Sends each link of the partition, once (from its smaller identity), to the rules stage's partition of its
    /// component's label (of round <see cref="GraphTask.Round"/>, the last); returns how many it sent.
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
            long label = labels[graph.NodeOf(Fingerprint(link.Ns, link.Id, task.Seed))];
            await output.AddAsync(PartitionOf(label, task.RulesPartitions), new ComponentLinkRow(label, link), ct);
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
    /// partition's rows (<see cref="ComponentRows"/>), and when it held them as objects four at once made the build's peak
    /// (521-525 MB at N = 1,000,000).
    /// </remarks>
    public Task<int> RulesAsync(GraphTask task, CancellationToken ct) => LoggedAsync("rules", task, RulesPartitionAsync, ct, stitched: true);

    private async Task<int> RulesPartitionAsync(GraphTask task, CancellationToken ct)
    {
        var settings = task.Settings ?? IdentitySettings.Default;
        var work = Work(task);
        var build = files.Build(task.Tenant, task.Key);
        var map = new PartitionedFiles<PairRow>(build, "", Map, task.Partition);
        var graphs = new PartitionedFiles<GraphRow>(build, "", Graph, task.Partition);
        int stitched = 0;
        using var rows = await ComponentRows.ReadAsync(work, GraphFiles.Folder("", Components, task.Partition), ct);
        foreach (var links in rows.Components())
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

    /// <summary>
    /// A rules partition's rows, kept as their files' bytes with an index of each row's label and place, and read back a
    /// component at a time, in label order: held as objects, a partition's components were what the rules stage's
    /// memory grew with (at N = 1,000,000, partitions of 32 MB peaked at 545 MB that way, 468 MB this way).
    /// </summary>
    private sealed class ComponentRows : IDisposable
    {
        private readonly List<(GraphFiles.PooledFile File, GraphRowReader Reader)> _files = [];
        private long[] _labels = [], _places = [];

        public static async Task<ComponentRows> ReadAsync(GraphFiles work, string folder, CancellationToken ct)
        {
            var rows = new ComponentRows();
            try
            {
                var (labels, places) = (new List<long>(), new List<long>());
                foreach (string name in (await work.ListFolderAsync(folder, ct)).Names)
                {
                    var file = await work.HoldAsync(name, ct);
                    var binary = file.Reader();
                    var reader = new GraphRowReader(binary);
                    rows._files.Add((file, reader));
                    for (int count = binary.ReadInt32(); count > 0; count--)
                    {
                        places.Add(((long)(rows._files.Count - 1) << 32) | reader.Offset);
                        labels.Add(ComponentLinkRow.LabelOf(reader));
                    }
                }
                (rows._labels, rows._places) = (labels.ToArray(), places.ToArray());
                Array.Sort(rows._labels, rows._places);
                return rows;
            }
            catch
            {
                rows.Dispose();
                throw;
            }
        }

        /// <summary>Each component's links, its identities' strings made once; a component's rows in file order.</summary>
        public IEnumerable<List<IdentityLink>> Components()
        {
            for (int start = 0, end; start < _labels.Length; start = end)
            {
                for (end = start + 1; end < _labels.Length && _labels[end] == _labels[start]; end++) { }
                Array.Sort(_places, start, end - start);
                var known = new Dictionary<(string Ns, string Id), Identity>();
                Identity Known(string ns, string id)
                {
                    if (!known.TryGetValue((ns, id), out var identity)) known[(ns, id)] = identity = new Identity(ns, id);
                    return identity;
                }
                var links = new List<IdentityLink>(end - start);
                for (int i = start; i < end; i++)
                {
                    var link = ComponentLinkRow.ReadFrom(_files[(int)(_places[i] >> 32)].Reader.At(_places[i] & uint.MaxValue)).Link;
                    links.Add(new IdentityLink(Known(link.Ns, link.Id), Known(link.ToNs, link.ToId), link.Time, link.Order));
                }
                yield return links;
            }
        }

        public void Dispose()
        {
            foreach (var (file, _) in _files) file.Dispose();
            _files.Clear();
        }
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

    /// <summary>
    /// The rows one writer sends to the partitions of a set, each put in the files' binary form as it comes, in a pooled
    /// stream per partition; once they come to <see cref="BytesHeld"/>, written a file per partition. The writer's files
    /// of a partition are numbered in order, so a retry, which sends the same rows in the same order, writes the same
    /// files. (Held as row objects, 100,000 link rows were about 27 MB an activity, as bytes about 9 MB.)
    /// </summary>
    private sealed class PartitionedFiles<T>(GraphFiles files, string root, string set, int writer) where T : IGraphRow<T>
    {
        /// <summary>Each partition's file so far: room for its row count (which leads the file, written when the file is), then its rows.</summary>
        private readonly Dictionary<int, (PooledRows Held, GraphRowWriter Rows)> _pending = [];
        private readonly Dictionary<int, int> _written = [];
        private long _held;

        public async Task AddAsync(int partition, T row, CancellationToken ct)
        {
            if (!_pending.TryGetValue(partition, out var file))
            {
                var held = new PooledRows();
                held.Writer.Write(0);
                _pending[partition] = file = (held, new GraphRowWriter(held.Writer));
            }
            long before = file.Held.Bytes.Length;
            row.WriteTo(file.Rows);
            file.Held.Count++;
            if ((_held += file.Held.Bytes.Length - before) >= BytesHeld) await FlushAsync(ct);
        }

        public async Task FlushAsync(CancellationToken ct)
        {
            foreach (var (partition, (held, _)) in _pending.OrderBy(p => p.Key))
            {
                int file = _written.GetValueOrDefault(partition);
                held.Bytes.Position = 0;
                held.Writer.Write(held.Count);
                await files.UploadAsync(GraphFiles.Name(root, set, partition, writer, file), held.Bytes, ct);
                _written[partition] = file + 1;
                held.Dispose();
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
