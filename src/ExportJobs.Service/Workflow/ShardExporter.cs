using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// The work of a group of shards (see <see cref="ExportStorageOptions.ShardGroupBytes"/>), one shard after the other
/// into the same parts; for each shard: compact its fragment files when it has too many (those background compaction has not merged
/// yet: <see cref="ProfileStore.CompactShardAsync"/>), stream its profile fragments (and, when the job asks for them,
/// its events) in identity order, merge each identity's fragments by the job's merge policy, keep the profiles the
/// filter selects, attach their events, project them, and write one part per output batch (one batch, or one per
/// requested segment). With segment evaluation, each profile's requested segments are evaluated before the filter, and
/// the memberships that changed are recorded as the shard's fragments of the job's membership batch. Each shard is read
/// through the host's <see cref="ShardReadGate"/>. With <c>graphs</c> (a <c>pdg</c> export's graph build), the "shards"
/// are the partitions of the job's shuffle (<see cref="GraphShuffle"/>): each identity is a graph's primary, and its
/// profile gets the graph's <c>identityMap</c>.
/// </summary>
public sealed class ShardExporter(ProfileStore store, GraphShuffle shuffle, DatasetBatchFiles batchFiles, ShardReadGate gate, IOptions<ExportStorageOptions> options)
{
    /// <summary>The batch id of the membership fragments a job records (one file per shard).</summary>
    public static string MembershipBatchId(long jobId) => $"{ProfileStore.KeptApartBatchPrefix}{jobId}";

    /// <summary>
    /// The top-level members of profile records a job reads: those its fields go through and those its filter reads;
    /// all (null) when it exports every field or evaluates segments (PQL reads any attribute). The merge policies and
    /// the ingest-time filter read no member.
    /// </summary>
    public static IReadOnlySet<string>? MembersRead(FieldProjection projection, ExportSelection selection, SegmentEvaluation? evaluation) =>
        projection.IsAll || evaluation is not null ? null : projection.TopLevelNames.Concat(selection.MembersRead).ToHashSet(StringComparer.Ordinal);

    public async Task<ShardResult> ExportAsync(Tenant tenant, ExportJob job, SchemaNode? outputSchema, SegmentEvaluation? evaluation, int[] shards,
        string? graphs, CancellationToken ct)
    {
        var projection = FieldProjection.Parse(job.Fields);
        var selection = new ExportSelection(job.Filter);
        var rule = MergeRule.Of(job.MergePolicy?.AttributeMerge);
        var events = EventAttachment.For(job);
        bool emptyProfiles = job.Filter?.EmptyProfiles == true;
        var batches = job.OutputBatchIds();
        bool perSegment = job.Destination.SegmentPerBatch == true;

        int partRows = options.Value.PartRows;
        var pending = batches.Select(_ => PartRows.For(outputSchema)).ToArray();
        var rowsByBatch = new long[batches.Count];
        var parts = new List<PartFile>();
        long bytes = 0;
        // A batch's rows go to a part as soon as there are PartRows of them: at most that many are held per batch. Parts
        // are named by the group's first shard: the group is fixed by the job's plan, so a retry writes the same names.
        async Task FlushAsync(int batch)
        {
            string name = DatasetBatchFiles.PartName(shards[0], parts.Count(p => p.Batch == batch));
            bytes += await batchFiles.WritePartAsync(tenant, job.Destination.DatasetId!, batches[batch], name, pending[batch], ct);
            parts.Add(new PartFile(batch, name, pending[batch].Count));
            pending[batch].Clear();
        }

        var byNamespace = new Dictionary<string, long>(StringComparer.Ordinal);
        var bySegment = new long[job.Filter?.Segments?.Count ?? 0];
        var matches = new List<int>();
        bool withEvents = events is not null || emptyProfiles || evaluation?.UsesEvents == true;
        string? membershipBatch = evaluation is null ? null : MembershipBatchId(job.Id);
        var members = MembersRead(projection, selection, evaluation);
        foreach (int shard in shards)
        {
            using var read = await gate.EnterAsync(ct);
            var memberships = new List<(Identity, JsonObject)>();
            var stitched = graphs is null ? null : await shuffle.GraphsAsync(tenant, graphs, shard, ct);
            if (stitched is null)
            {
                await store.CompactShardAsync(FragmentKind.Profile, tenant, shard, CompactionTrigger.BeforeRead, ct);
                if (withEvents) await store.CompactShardAsync(FragmentKind.Event, tenant, shard, CompactionTrigger.BeforeRead, ct);
            }
            var source = stitched is null
                ? JoinAsync(store.ReadShardAsync(FragmentKind.Profile, tenant, shard, ct, membershipBatch, members),
                    withEvents ? store.ReadShardAsync(FragmentKind.Event, tenant, shard, ct) : Empty())
                : JoinAsync(store.ReadFolderAsync(FragmentKind.Profile, GraphShuffle.PartitionFolder(tenant, job.Id, shard), members, ct),
                    withEvents ? store.ReadFolderAsync(FragmentKind.Event, GraphShuffle.PartitionFolder(tenant, job.Id, shard), null, ct) : Empty());
            await foreach (var (identity, fragments, eventFragments) in source)
            {
                if (fragments.Count == 0 && !emptyProfiles) continue;
                var profile = fragments.Count == 0 ? MergedProfile.Empty(identity) : rule.Merge(identity, fragments);
                if (stitched is not null) profile.Stitch(GraphShuffle.IdentityMapOf(identity, stitched));
                if (evaluation is not null && fragments.Count > 0 && evaluation.Apply(profile, eventFragments.Select(e => e.RecordObject()).ToList()) is { } changed)
                    memberships.Add((identity, changed));
                if (!selection.Includes(profile)) continue;
                selection.CollectMatches(profile, matches);
                foreach (int segment in matches) bySegment[segment]++;

                // Read through the fragments, unless fields ask for a projection.
                var row = projection.IsAll ? profile.Value : MergedValue.Of(projection.Apply(profile.Value));
                if (events?.Attach(eventFragments) is { } attached) row = row.With(new JsonObject { [EventAttachment.Column] = attached });
                var targets = perSegment ? matches : [0];
                foreach (int target in targets)
                {
                    pending[target].Add(row);
                    rowsByBatch[target]++;
                    if (pending[target].Count >= partRows) await FlushAsync(target);
                }
                byNamespace[identity.Namespace] = byNamespace.GetValueOrDefault(identity.Namespace) + targets.Count;
            }

            if (membershipBatch is not null)
                await store.WriteShardAsync(FragmentKind.Profile, tenant, shard, SegmentEvaluation.MembershipDatasetId, membershipBatch, job.CreationTime, memberships, ct);
        }
        for (int b = 0; b < batches.Count; b++)
            if (pending[b].Count > 0) await FlushAsync(b);
        return new ShardResult(shards, rowsByBatch, byNamespace, bySegment, bytes, parts);
    }

    /// <summary>Each identity with its profile fragments and its events: a merge join of two identity-ordered streams.</summary>
    private static async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments, List<ProfileFragment> Events)> JoinAsync(
        IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> profileStream,
        IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> eventStream)
    {
        await using var profiles = profileStream.GetAsyncEnumerator();
        await using var events = eventStream.GetAsyncEnumerator();
        bool hasProfile = await profiles.MoveNextAsync(), hasEvent = await events.MoveNextAsync();
        while (hasProfile || hasEvent)
        {
            int order = !hasEvent ? -1 : !hasProfile ? 1
                : IdentityKey.Compare(profiles.Current.Identity, events.Current.Identity);
            if (order < 0)
            {
                yield return (profiles.Current.Identity, profiles.Current.Fragments, []);
                hasProfile = await profiles.MoveNextAsync();
            }
            else if (order > 0)
            {
                yield return (events.Current.Identity, [], events.Current.Fragments);
                hasEvent = await events.MoveNextAsync();
            }
            else
            {
                yield return (profiles.Current.Identity, profiles.Current.Fragments, events.Current.Fragments);
                hasProfile = await profiles.MoveNextAsync();
                hasEvent = await events.MoveNextAsync();
            }
        }
    }

    private static async IAsyncEnumerable<(Identity Identity, List<ProfileFragment> Fragments)> Empty()
    {
        await Task.CompletedTask;
        yield break;
    }
}
