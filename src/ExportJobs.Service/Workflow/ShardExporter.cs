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
/// into the same parts: each shard's merged (and, with segment evaluation, evaluated) profiles as
/// <see cref="ShardProfiles"/> reads them, those the filter selects, their events attached, projected, written to one
/// part per output batch (one batch, or one per requested segment). With <c>graphs</c> (a <c>pdg</c> export's graph
/// build), the "shards" are the partitions of the job's shuffle (<see cref="GraphShuffle"/>).
/// </summary>
public sealed class ShardExporter(ShardProfiles profiles, DatasetBatchFiles batchFiles, IOptions<ExportStorageOptions> options)
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
        var reading = new ShardReading(rule, evaluation, evaluation is null ? null : MembershipBatchId(job.Id), job.CreationTime,
            events is not null || emptyProfiles || evaluation?.UsesEvents == true, emptyProfiles, MembersRead(projection, selection, evaluation), job.Id, graphs);
        foreach (int shard in shards)
            await foreach (var (identity, profile, eventFragments, _) in profiles.ReadAsync(tenant, shard, reading, ct))
            {
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
        for (int b = 0; b < batches.Count; b++)
            if (pending[b].Count > 0) await FlushAsync(b);
        return new ShardResult(shards, rowsByBatch, byNamespace, bySegment, bytes, parts);
    }
}
