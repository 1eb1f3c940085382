using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// The work of a group of shards (see <see cref="ExportStorageOptions.ShardGroupBytes"/>), one shard after the other
/// into the same parts: each shard's merged (and, with segment evaluation, evaluated) profiles as
/// <see cref="ShardProfiles"/> reads them, those the filter selects, their events attached, projected, written to one
/// part per output batch (one batch, or one per requested segment). An incremental export writes the changes against
/// its predecessor's state instead, and its own state (<see cref="ChangeStates"/>). With <c>graphs</c> (a <c>pdg</c>
/// export's graph build), the "shards" are the partitions of the job's shuffle (<see cref="GraphShuffle"/>), with the
/// fragments its <c>routes</c> moved to them.
/// </summary>
public sealed class ShardExporter(ShardProfiles profiles, DatasetBatchFiles batchFiles, ChangeStates states, IOptions<ExportStorageOptions> options)
{
    /// <summary>The output batch of a job that writes one: where each of its rows goes.</summary>
    private static readonly int[] FirstBatch = [0];

    /// <summary>The batch id of the membership fragments a job records (one file per shard).</summary>
    public static string MembershipBatchId(long jobId) => $"{ProfileStore.KeptApartBatchPrefix}{jobId}";

    /// <summary>
    /// The top-level members of profile records a job reads: those its fields go through, those its filter reads and
    /// those the segments it evaluates read (<see cref="SegmentEvaluation.MembersRead"/>); all (null) when it exports
    /// every field or a segment's PQL reads the profile whole. The merge policies and the ingest-time filter read no member.
    /// </summary>
    public static IReadOnlySet<string>? MembersRead(FieldProjection projection, ExportSelection selection, SegmentEvaluation? evaluation) =>
        ReadsWholeRecords(projection, evaluation) ? null
            : projection.TopLevelNames.Concat(selection.MembersRead).Concat(evaluation?.MembersRead ?? Enumerable.Empty<string>()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The members of profile records a job reads only for its fields, each with what the fields keep below it: of
    /// those, a read needs only the typed leaves the fields touch (<see cref="MemberSelection.Partly"/>). A member its
    /// filter or segments read, or that the fields keep whole, is read whole.
    /// </summary>
    public static IReadOnlyDictionary<string, FieldProjection>? PartlyRead(FieldProjection projection, ExportSelection selection, SegmentEvaluation? evaluation)
    {
        if (ReadsWholeRecords(projection, evaluation)) return null;
        var whole = selection.MembersRead.Concat(evaluation?.MembersRead ?? Enumerable.Empty<string>()).ToHashSet(StringComparer.Ordinal);
        return projection.TopLevelNames.Where(name => !whole.Contains(name)).Select(name => (name, below: projection.Below(name)))
            .Where(m => m.below is not null).ToDictionary(m => m.name, m => m.below!, StringComparer.Ordinal);
    }

    /// <summary>Whether a job reads profile records whole: it exports every field, or a segment's PQL reads the profile whole.</summary>
    private static bool ReadsWholeRecords(FieldProjection projection, SegmentEvaluation? evaluation) => projection.IsAll || evaluation is { MembersRead: null };

    /// <summary>
    /// The top-level members of events a job reads: those its attachment's fields go through (and what orders the
    /// events), and those the segments it evaluates read; all (null) when either reads an event whole. A job that reads
    /// events only for the profiles they make (<c>emptyProfiles</c>) reads none of them.
    /// </summary>
    public static IReadOnlySet<string>? EventMembersRead(EventAttachment? attachment, SegmentEvaluation? evaluation)
    {
        IEnumerable<string>? evaluated = evaluation is { UsesEvents: true } ? evaluation.EventMembersRead : [];
        return attachment is { MembersRead: null } || evaluated is null ? null
            : (attachment?.MembersRead ?? Enumerable.Empty<string>()).Concat(evaluated).ToHashSet(StringComparer.Ordinal);
    }

    public async Task<ShardResult> ExportAsync(Tenant tenant, ExportJob job, SchemaNode? outputSchema, SegmentEvaluation? evaluation, int[] shards,
        string? graphs, IReadOnlyList<string[]?>? routes, CancellationToken ct, IReadOnlyDictionary<int, ListedShard>? listed = null)
    {
        var projection = FieldProjection.Parse(job.Fields);
        var selection = new ExportSelection(job.Filter);
        var rule = MergeRule.Of(job.MergePolicy?.AttributeMerge);
        var events = EventAttachment.For(job);
        bool emptyProfiles = job.Filter?.EmptyProfiles == true;
        var batches = job.OutputBatchIds();
        bool perSegment = job.Destination.SegmentPerBatch == true;

        // Where the job's columns hold only what its fields keep, its rows are the merged profiles themselves, not copies
        // of what the fields keep of them (an added events or change column is over a row of the fields alone).
        var unprojected = !projection.IsAll && outputSchema is not null && events is null && job.Incremental is null && projection.ShreddedBy(outputSchema)
            ? projection : null;
        // One file buffer for every batch's parts: they are written one at a time, and a buffer kept per batch would grow
        // with the batches. Pooled blocks: a buffer grown by doubling went through the large object heap in every activity.
        using var file = PooledStreams.Get();
        var pending = new PendingParts(batches.Select(_ => PartRows.For(outputSchema, unprojected, file)).ToArray(), options.Value.PartRows, options.Value.PartBytes);
        var rowsByBatch = new long[batches.Count];
        var parts = new List<PartFile>();
        long bytes = 0;
        // Parts are named by the group's first shard: the group is fixed by the job's plan, so a retry writes the same names.
        async Task FlushAsync(int batch)
        {
            string name = DatasetBatchFiles.PartName(shards[0], parts.Count(p => p.Batch == batch));
            bytes += await batchFiles.WritePartAsync(tenant, job.Destination.DatasetId!, batches[batch], name, pending[batch], ct);
            parts.Add(new PartFile(batch, name, pending[batch].Count));
            pending.Written(batch);
        }

        var byNamespace = new Dictionary<string, long>(StringComparer.Ordinal);
        var bySegment = new long[job.Filter?.Segments?.Count ?? 0];
        var matches = new List<int>();
        // Profiles that hold no requested status of a requested segment are left out before they are parsed, unless every
        // profile is looked at: by segment evaluation, or by an incremental export (a member that left is written). Where
        // the filter alone reads the memberships, the files' memberships index decides instead, and the member is
        // decoded only where the index does not describe a row.
        bool filtered = selection.BySegment && evaluation is null && job.Incremental is null;
        bool indexed = filtered && graphs is null && !projection.IsAll && !projection.TopLevelNames.Contains(ExportSelection.SegmentMembership);
        var prefilter = filtered
            ? new MemberPrefilter(ExportSelection.SegmentMembership, selection.CouldQualify, indexed ? new IndexedSegmentFilter(selection, rule) : null) : null;
        var reading = new ShardReading(rule, evaluation, evaluation is null ? null : MembershipBatchId(job.Id), job.CreationTime,
            events is not null || emptyProfiles || evaluation?.UsesEvents == true, emptyProfiles, MembersRead(projection, selection, evaluation), graphs, routes, prefilter,
            EventMembersRead(events, evaluation), listed, PartlyRead(projection, selection, evaluation));
        // A row is added to its targets' parts without a state machine of its own; only a part to be written awaits.
        ValueTask WriteAsync(Identity identity, MergedValue row, IReadOnlyList<int> targets, int from = 0)
        {
            for (int t = from; t < targets.Count; t++)
            {
                int target = targets[t];
                rowsByBatch[target]++;
                int full = pending.Add(target, row);
                if (full >= 0) return FlushThenWriteAsync(full, identity, row, targets, t + 1);
            }
            CollectionsMarshal.GetValueRefOrAddDefault(byNamespace, identity.Namespace, out _) += targets.Count;
            return ValueTask.CompletedTask;
        }
        async ValueTask FlushThenWriteAsync(int full, Identity identity, MergedValue row, IReadOnlyList<int> targets, int from)
        {
            await FlushAsync(full);
            await WriteAsync(identity, row, targets, from);
        }
        // Read through the fragments, unless fields ask for a projection the columns do not make.
        MergedValue RowOf(MergedProfile profile, IReadOnlyList<ProfileFragment> eventFragments)
        {
            var row = projection.IsAll || unprojected is not null ? profile.Value : MergedValue.Of(projection.Apply(profile.Value));
            return events?.Attach(eventFragments) is { } attached ? row.With(new JsonObject { [EventAttachment.Column] = attached }) : row;
        }

        var changes = job.Incremental is null ? null : new ChangeRows(perSegment, bySegment);
        foreach (int shard in shards)
        {
            using var previous = job.Incremental?.AfterJobId is { } after ? await states.ReadAsync(tenant, after, shard, ct) : null;
            using var kept = changes is null ? null : new ChangeStates.Writer();
            await foreach (var (identity, profile, eventFragments, _) in profiles.ReadAsync(tenant, shard, reading, ct))
            {
                bool included = selection.Includes(profile, matches, prefilter?.Index?.DecidedFor(identity));
                if (changes is null)
                {
                    if (!included) continue;
                    foreach (int segment in matches) bySegment[segment]++;
                    await WriteAsync(identity, RowOf(profile, eventFragments), perSegment ? matches : FirstBatch);
                    continue;
                }
                foreach (var gone in previous?.Before(identity) ?? [])
                    foreach (var (target, row) in changes.Of(RowOf(MergedProfile.Empty(gone.Identity), []), 0, [], [], gone))
                        await WriteAsync(gone.Identity, row, [target]);
                var was = previous?.Take(identity);
                var now = included ? (perSegment ? matches.ToArray() : [0]) : [];
                if (now.Length == 0 && was is null) continue;
                var current = RowOf(profile, eventFragments);
                // Only a member now is compared (updated or not) or kept.
                ulong hash = now.Length > 0 ? ChangeRows.Hash(current) : 0;
                foreach (var (target, row) in changes.Of(current, hash, now, matches, was))
                    await WriteAsync(identity, row, [target]);
                if (now.Length > 0) kept!.Add(identity, hash, now);
            }
            if (changes is null) continue;
            foreach (var gone in previous?.Before(null) ?? [])
                foreach (var (target, row) in changes.Of(RowOf(MergedProfile.Empty(gone.Identity), []), 0, [], [], gone))
                    await WriteAsync(gone.Identity, row, [target]);
            await states.WriteAsync(tenant, job.Id, shard, kept!, ct);
        }
        for (int b = 0; b < pending.Count; b++)
            if (pending[b].Count > 0) await FlushAsync(b);
        return new ShardResult(shards, rowsByBatch, byNamespace, bySegment, bytes, parts, changes?.Counts);
    }

    /// <summary>
    /// The rows an incremental export writes for a member (docs/api.md, "Incremental exports"): to each output batch it
    /// is in now and was not in the predecessor's, <c>entered</c>; in both with another row, <c>updated</c>; in the
    /// predecessor's only, <c>exited</c> (its row as it is now, or its identity alone when it has no profile left).
    /// </summary>
    private sealed class ChangeRows(bool perSegment, long[] bySegment)
    {
        public ChangeCounts Counts { get; private set; } = new(0, 0, 0);

        /// <param name="hash">The hash of <paramref name="current"/>, the member's row now (any value when it is no member now).</param>
        public IEnumerable<(int Target, MergedValue Row)> Of(MergedValue current, ulong hash, int[] now, List<int> matches, ChangeStates.Entry? was)
        {
            var before = was?.Batches ?? [];
            bool counted = false;
            foreach (int target in now.Union(before).Order())
            {
                bool isNow = now.Contains(target), wasThen = before.Contains(target);
                string? change = isNow && !wasThen ? IncrementalRequest.Entered
                    : !isNow ? IncrementalRequest.Exited
                    : hash != was!.Hash ? IncrementalRequest.Updated : null;
                if (change is null) continue;
                Counts += change switch
                {
                    IncrementalRequest.Entered => new ChangeCounts(1, 0, 0),
                    IncrementalRequest.Exited => new ChangeCounts(0, 1, 0),
                    _ => new ChangeCounts(0, 0, 1),
                };
                if (change != IncrementalRequest.Exited)
                {
                    if (perSegment) bySegment[target]++;
                    else if (!counted) foreach (int segment in matches) bySegment[segment]++;
                    counted = true;
                }
                yield return (target, current.With(new JsonObject { [IncrementalRequest.ChangeColumn] = change }));
            }
        }

        /// <summary>The row's JSON, hashed: what tells an updated member from an unchanged one.</summary>
        public static ulong Hash(MergedValue row)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new System.Text.Json.Utf8JsonWriter(buffer)) row.WriteTo(writer);
            return System.IO.Hashing.XxHash64.HashToUInt64(buffer.WrittenSpan);
        }
    }
}
