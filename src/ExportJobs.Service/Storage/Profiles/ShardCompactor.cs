using System.Diagnostics;
using System.Globalization;
using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Tenancy;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>Who compacts a shard: an export about to read it, or the background compaction that follows ingestion.</summary>
public enum CompactionTrigger { BeforeRead, Background }

/// <summary>
/// What a compaction of one shard did: how many files it merged, whether it left the shard for later, and whether it
/// left covered runs in it (for reads that may still be on them).
/// </summary>
public readonly record struct ShardCompaction(int Merged, bool Deferred, bool CoveredKept);

/// <summary>
/// Compaction of the profile store's shards (<see cref="ProfileStore"/>): merges a shard's smallest runs into compacted
/// runs, so that the runs a read merges stay few whatever the number of batches, and deletes the runs they cover once
/// no read can still be on them.
/// </summary>
public sealed class ShardCompactor(ProfileStore store, IOptions<ExportStorageOptions> options, TimeProvider time, FragmentFileCache cache, IShardReadingJobs readingJobs)
{
    private const string CompactedBatchPrefix = "compacted";
    /// <summary>Runs merged into one compacted run at once (each with one part open, one row group in memory, while merging).</summary>
    private const int CompactionFanIn = 8;
    /// <summary>
    /// Background compaction leaves a shard with at most this share of <see cref="ExportStorageOptions.MaxShardFiles"/>
    /// runs (at least 2), so that a read holds few parts whatever the data; a read compacts only a shard over the bound.
    /// </summary>
    private const int BackgroundShare = 4;
    /// <summary>How long covered runs stay after their compacted run is written: reads that listed them before go on. Also how long a run left unfinished stays.</summary>
    internal static readonly TimeSpan CoveredGrace = TimeSpan.FromMinutes(15);
    /// <summary>
    /// How long covered runs wait for background compaction to delete them (it comes back once <see cref="CoveredGrace"/>
    /// is over) before a read does, one request each, before it reads: only when that pass was lost.
    /// </summary>
    internal static readonly TimeSpan ReadDeletesAfter = CoveredGrace * 4;
    private static readonly TimeSpan CompactionLease = TimeSpan.FromSeconds(60);
    /// <summary>How long a read waits for another caller compacting its shard (each merge renews the lease), and how often it asks.</summary>
    private static readonly TimeSpan LeaseWait = TimeSpan.FromMinutes(3), LeasePoll = TimeSpan.FromMilliseconds(250);
    /// <summary>How many times its bound a shard's files may number before background compaction stops waiting for a quiet period.</summary>
    private const int BackgroundBacklog = 16;

    /// <summary>How many runs background compaction leaves a shard with (at most): a <see cref="BackgroundShare"/> of <see cref="ExportStorageOptions.MaxShardFiles"/>, at least 2.</summary>
    public int SettledShardRuns => Math.Max(2, options.Value.MaxShardFiles / BackgroundShare);

    /// <summary>
    /// Bounds the runs a shard is read from: while it has more than its bound — <see cref="ExportStorageOptions.MaxShardFiles"/>
    /// before a read, a <see cref="BackgroundShare"/> of it in the background — its smallest runs are merged, up to
    /// <see cref="CompactionFanIn"/> at a time and no more than it takes to reach the bound, into a compacted run named
    /// by the newest ingest time it holds; its rows keep the order a read of its runs gives. In the background, the runs
    /// left in chunk files (an ingested chunk's sections, <see cref="ProfileStore"/>) are merged too, by a pass that
    /// merged others or once older than <see cref="CoveredGrace"/> (<see cref="Unmerged"/>). Covered runs, and
    /// runs left unfinished, are deleted in the background once older than <see cref="CoveredGrace"/> — covered runs at
    /// once when no job that reads shards is running after the shard is listed (<see cref="IShardReadingJobs"/>) — and
    /// before a read once older than <see cref="ReadDeletesAfter"/>; a covered run once the runs it covers are gone, and
    /// a chunk file by background compaction alone, once every section of it may go. One caller at a time per shard holds the
    /// shard's lease. Before a read, a caller that finds the lease held waits for it (up to <see cref="LeaseWait"/>,
    /// then reads the runs as they are). In the background, the shard is left for later
    /// (<see cref="ShardCompaction.Deferred"/>) when the lease is held, or while files are still arriving: one was
    /// written within the quiet period (<see cref="ExportStorageOptions.CompactionQuietSeconds"/>), unless the shard
    /// has fallen <see cref="BackgroundBacklog"/> times behind its bound.
    /// </summary>
    public async Task<ShardCompaction> CompactShardAsync(FragmentKind kind, Tenant tenant, int shard, CompactionTrigger trigger, CancellationToken ct) =>
        (await CompactAsync(kind, tenant, shard, trigger, ct)).Compaction;

    /// <summary>
    /// Compacts the shard before a read (<see cref="CompactionTrigger.BeforeRead"/>) and returns the runs a read of it
    /// merges now: those of the compaction's own listing when it had nothing to do (as nearly always), so that the read
    /// does not list the shard again (in Azurite, a listing takes time that grows with the shard's files, covered ones
    /// included).
    /// </summary>
    internal async Task<List<ProfileStore.ShardRun>> ReadyToReadAsync(FragmentKind kind, Tenant tenant, int shard, CancellationToken ct) =>
        (await CompactAsync(kind, tenant, shard, CompactionTrigger.BeforeRead, ct)).Untouched
        ?? (await store.ListRunsAsync(kind, tenant, shard, ct)).Live;

    /// <summary>What <see cref="CompactShardAsync"/> did, and the live runs it listed when it left the shard as it was (else null).</summary>
    private async Task<(ShardCompaction Compaction, List<ProfileStore.ShardRun>? Untouched)> CompactAsync(
        FragmentKind kind, Tenant tenant, int shard, CompactionTrigger trigger, CancellationToken ct)
    {
        var listed = await store.ListRunsAsync(kind, tenant, shard, ct);
        var (live, covered, unfinished, _) = listed;
        int max = options.Value.MaxShardFiles;
        bool background = trigger == CompactionTrigger.Background;
        var (bound, grace) = LimitsOf(trigger);
        var now = time.GetUtcNow();
        bool inChunks = background && live.Any(r => Unmerged(r, now));
        // Nothing to merge nor to delete: no lease (every read ends here; in the background, a pass with no covered runs).
        if (NothingToDo(listed, bound, now, grace) && !inChunks && !(background && covered.Count > 0)) return (default, live);
        if (background && (live.Count > bound || inChunks) && live.Count <= max * BackgroundBacklog &&
            now - live.Max(f => f.Written) < TimeSpan.FromSeconds(options.Value.CompactionQuietSeconds))
            return (new ShardCompaction(0, Deferred: true, CoveredKept: covered.Count > 0), live);

        var container = store.Container(kind);
        var lockBlob = container.GetBlobClient(ProfileStore.ShardPrefix(tenant, shard).TrimEnd('/') + ".lock");
        try
        {
            await lockBlob.UploadAsync(BinaryData.Empty, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, ct);
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { }
        var lease = lockBlob.GetBlobLeaseClient();
        if (!await AcquireAsync(lease, wait: !background, ct)) return (new ShardCompaction(0, Deferred: true, CoveredKept: covered.Count > 0), null);
        try
        {
            listed = await store.ListRunsAsync(kind, tenant, shard, ct);
            (live, covered, unfinished, _) = listed;
            // Asked after the listing: a read that listed a run before it was covered is a step of a job running now.
            bool coveredAtOnce = background && covered.Count > 0 && !await readingJobs.AnyRunningAsync(tenant, ct);
            var expired = Expired(live, covered, unfinished, now, grace, coveredAtOnce).ToList();
            var chunksLeft = background && expired.Any(r => r.InChunk) ? await DeleteCoveredChunksAsync(kind, tenant, now, grace, ct) : null;
            int deleted = covered.Count(r => Gone(r, chunksLeft));
            foreach (var ready in DeletionRounds(listed, expired, chunksLeft))
                foreach (var run in ready)
                {
                    foreach (var part in run.Parts)
                        await store.DeleteAsync(container.GetBlobClient(part.Name), ct);
                    if (covered.Contains(run)) deleted++;
                }

            int merged = 0, count = live.Count;
            var candidates = live.Where(f => !f.KeptApart).OrderBy(f => f.Size).ThenBy(f => f.Name, StringComparer.Ordinal).ToList();
            while (count > bound && candidates.Count >= 2)
            {
                var group = candidates.Take(Math.Min(CompactionFanIn, count - bound + 1)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
                candidates.RemoveRange(0, group.Count);
                candidates.Add(await MergeAsync(kind, tenant, shard, group, lease, ct));
                candidates.Sort((a, b) => a.Size != b.Size ? a.Size.CompareTo(b.Size) : string.CompareOrdinal(a.Name, b.Name));
                count -= group.Count - 1;
                merged += group.Count;
            }
            // A pass that merged takes the shard's other runs in chunk files with it: the shards of a bulk load go over
            // their bound together, and a chunk file goes only once each of its sections is covered.
            var sections = background ? candidates.Where(r => Unmerged(r, now) || (merged > 0 && r.InChunk)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList() : [];
            foreach (var group in sections.Chunk(CompactionFanIn))
            {
                await MergeAsync(kind, tenant, shard, [.. group], lease, ct);
                merged += group.Length;
            }
            return (new ShardCompaction(merged, Deferred: false, CoveredKept: merged > 0 || deleted < covered.Count), null);
        }
        finally
        {
            try
            {
                await lease.ReleaseAsync(cancellationToken: CancellationToken.None);
            }
            catch (RequestFailedException) { } // The lease ran out: there is nothing to release.
        }
    }

    /// <summary>
    /// Whether a read would find nothing to do in the shard as listed (<see cref="ReadyToReadAsync"/> would read its live
    /// runs as they are): no more of them than <see cref="ExportStorageOptions.MaxShardFiles"/>, and none to delete.
    /// </summary>
    internal bool NothingToDoBeforeRead(ProfileStore.ShardRuns listed)
    {
        var (bound, grace) = LimitsOf(CompactionTrigger.BeforeRead);
        return NothingToDo(listed, bound, time.GetUtcNow(), grace);
    }

    /// <summary>
    /// The runs a shard is left with at most, and how long runs stay covered before they are deleted: in the background,
    /// <see cref="SettledShardRuns"/> and <see cref="CoveredGrace"/>; before a read,
    /// <see cref="ExportStorageOptions.MaxShardFiles"/> and <see cref="ReadDeletesAfter"/>.
    /// </summary>
    private (int Bound, TimeSpan Grace) LimitsOf(CompactionTrigger trigger) =>
        trigger == CompactionTrigger.Background ? (SettledShardRuns, CoveredGrace) : (options.Value.MaxShardFiles, ReadDeletesAfter);

    private static bool NothingToDo(ProfileStore.ShardRuns listed, int bound, DateTimeOffset now, TimeSpan grace) =>
        listed.Live.Count <= bound && !DeletionRounds(listed, Expired(listed.Live, listed.Covered, listed.Unfinished, now, grace, coveredAtOnce: false), null).Any();

    /// <summary>
    /// The <paramref name="expired"/> runs of a shard's folder that can be deleted, in rounds: a run goes in the round
    /// after the runs it covers have gone (before them, it would leave them uncovered, its deletion stopping half way);
    /// of the runs in chunk files (which only background compaction deletes, with the whole file), those not in
    /// <paramref name="chunksLeft"/> are gone (when it is known).
    /// </summary>
    private static IEnumerable<List<ProfileStore.ShardRun>> DeletionRounds(ProfileStore.ShardRuns listed, IEnumerable<ProfileStore.ShardRun> expired,
        HashSet<string>? chunksLeft)
    {
        var present = listed.Live.Concat(listed.Covered).Concat(listed.Unfinished).Where(r => !Gone(r, chunksLeft)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var left = expired.Where(r => !r.InChunk).ToList();
        while (left.Where(r => !r.Covers.Any(present.Contains)).ToList() is { Count: > 0 } ready)
        {
            yield return ready;
            present.ExceptWith(ready.Select(r => r.Name));
            left = left.Except(ready).ToList();
        }
    }

    /// <summary>
    /// The runs to delete: covered for longer than <paramref name="grace"/> (with <paramref name="coveredAtOnce"/>, every
    /// covered run), earliest covered first, or left unfinished for longer.
    /// </summary>
    private static IEnumerable<ProfileStore.ShardRun> Expired(List<ProfileStore.ShardRun> live, List<ProfileStore.ShardRun> covered,
        List<ProfileStore.ShardRun> unfinished, DateTimeOffset now, TimeSpan grace, bool coveredAtOnce)
    {
        var coveredSince = live.Concat(covered).SelectMany(f => f.Covers.Select(name => (name, f.Written)))
            .GroupBy(c => c.name).ToDictionary(g => g.Key, g => g.Min(c => c.Written), StringComparer.Ordinal);
        return covered.Where(f => coveredAtOnce || now - coveredSince[f.Name] > grace).OrderBy(f => coveredSince[f.Name])
            .Concat(unfinished.Where(r => now - r.Written > grace));
    }

    /// <summary>
    /// Deletes the tenant's chunk files whose every section may go: in each shard, a covered run that
    /// <see cref="Expired"/> gives (every covered one when no job that reads shards is running after the listing);
    /// returns the names of those left (another shard's compaction may have deleted some since the shard was listed).
    /// </summary>
    private async Task<HashSet<string>> DeleteCoveredChunksAsync(FragmentKind kind, Tenant tenant, DateTimeOffset now, TimeSpan grace, CancellationToken ct)
    {
        var shards = (await store.ListShardRunsAsync(kind, tenant, ct)).Values;
        bool atOnce = !await readingJobs.AnyRunningAsync(tenant, ct);
        var expired = shards.SelectMany(s => Expired(s.Live, s.Covered, [], now, grace, atOnce)).Where(r => r.InChunk).ToHashSet();
        var left = new HashSet<string>(StringComparer.Ordinal);
        foreach (var chunk in shards.SelectMany(s => s.Live.Concat(s.Covered)).Where(r => r.InChunk).GroupBy(r => r.Parts[0].Name, StringComparer.Ordinal))
            if (chunk.All(expired.Contains)) await store.DeleteAsync(store.Container(kind).GetBlobClient(chunk.Key), ct);
            else left.Add(chunk.Key);
        return left;
    }

    /// <summary>Whether a run is in a chunk file known to be gone: not among <paramref name="chunksLeft"/>, when they are known.</summary>
    private static bool Gone(ProfileStore.ShardRun run, HashSet<string>? chunksLeft) =>
        run.InChunk && chunksLeft is not null && !chunksLeft.Contains(run.Parts[0].Name);

    /// <summary>
    /// Whether a run is still in a chunk file a <see cref="CoveredGrace"/> after it was written: background compaction
    /// merges such runs whatever their number, so that a chunk file goes in the end once merges have covered some of
    /// its sections (the orchestration waits for those covered runs' grace, then makes the pass that merges the rest).
    /// Before that, a tenant's new batches are not rewritten beside the exports that read them, unless the pass merges
    /// anyway; and a chunk file none of whose sections is covered costs nothing.
    /// </summary>
    private static bool Unmerged(ProfileStore.ShardRun run, DateTimeOffset now) => run.InChunk && now - run.Written > CoveredGrace;

    /// <summary>Takes the shard's lease; with <paramref name="wait"/>, polls while another caller holds it, up to <see cref="LeaseWait"/>.</summary>
    private static async Task<bool> AcquireAsync(BlobLeaseClient lease, bool wait, CancellationToken ct)
    {
        // Wall-clock time, whatever the store's clock: the lease runs out on the storage service's.
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await lease.AcquireAsync(CompactionLease, cancellationToken: ct);
                return true;
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                if (!wait || waited.Elapsed > LeaseWait) return false;
                await Task.Delay(LeasePoll, ct);
            }
        }
    }

    /// <summary>Merges the runs (in name order) into one compacted run that covers them, renewing the lease after each part; returns it.</summary>
    private async Task<ProfileStore.ShardRun> MergeAsync(FragmentKind kind, Tenant tenant, int shard, List<ProfileStore.ShardRun> group, BlobLeaseClient lease, CancellationToken ct)
    {
        string prefix = ProfileStore.ShardPrefix(tenant, shard);
        long newest = group.Max(f => long.Parse(f.Name.AsSpan(prefix.Length, 15), NumberStyles.None, CultureInfo.InvariantCulture));
        string name = ProfileStore.Stem(tenant, shard, newest, CompactedBatchPrefix + Guid.NewGuid().ToString("N"));
        var metadata = new Dictionary<string, string> { [ProfileStore.CoversKey] = string.Join(',', group.Select(f => f.Name[prefix.Length..])) };

        var runs = await store.OpenAsync(store.Container(kind), group, members: null, ct);
        try
        {
            await using var writer = new RunWriter(store.Container(kind), name, FragmentColumns.NamesOf(runs.SelectMany(r => r.Members)),
                async c => await lease.RenewAsync(cancellationToken: c), cache, options.Value.TypedLeaves, LeafShape.DeclaredBy(runs.SelectMany(r => r.Members.Zip(r.Shapes))));
            await foreach (var run in FragmentCursor.MergeAsync(runs, ct))
                await writer.AddAsync(run.Current, ct);
            var (parts, completed) = await writer.CompleteAsync(metadata, ct);
            // Reads listed from now on leave the covered runs out: their copies make room for what they read (a read
            // that listed them before reads on from its open copy, or fetches them).
            // A chunk file's copy stays for the other shards' compactions.
            foreach (var part in group.SelectMany(f => f.Parts).Where(p => !p.OfChunk)) cache.Remove(store.Container(kind).GetBlobClient(part.Name));
            return new ProfileStore.ShardRun(name, parts, completed, group.Select(f => f.Name).ToList());
        }
        finally
        {
            foreach (var run in runs) await run.DisposeAsync();
        }
    }
}
