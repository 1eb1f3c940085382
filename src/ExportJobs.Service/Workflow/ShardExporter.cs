using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Workflow;

/// <summary>
/// The work of one shard: merge its fragments into profiles by the job's merge policy, keep the profiles the filter
/// selects, project them, and write one part per output batch (one batch, or one per requested segment).
/// </summary>
public sealed class ShardExporter(ProfileStore profiles, DatasetBatchFiles batchFiles)
{
    public async Task<ShardResult> ExportAsync(Tenant tenant, ExportJob job, int shard, CancellationToken ct)
    {
        var projection = FieldProjection.Parse(job.Fields);
        var selection = new ExportSelection(job.Filter);
        var batches = job.OutputBatchIds();
        bool perSegment = job.Destination.SegmentPerBatch == true;
        int segmentCount = job.Filter?.Segments?.Count ?? 0;

        var rowsByBatch = batches.Select(_ => new List<JsonObject>()).ToArray();
        var byNamespace = new Dictionary<string, long>(StringComparer.Ordinal);
        var bySegment = new long[segmentCount];
        var matches = new List<int>();
        await foreach (var profile in MergeAsync(tenant, shard, MergeRule.Of(job.MergePolicy?.AttributeMerge), ct))
        {
            if (!selection.Includes(profile)) continue;
            selection.CollectMatches(profile, matches);
            foreach (int segment in matches) bySegment[segment]++;
            var row = projection.Apply(profile.Attributes);
            var targets = perSegment ? matches : [0];
            foreach (int target in targets) rowsByBatch[target].Add(target == targets[^1] ? row : (JsonObject)row.DeepClone());
            byNamespace[profile.Identity.Namespace] = byNamespace.GetValueOrDefault(profile.Identity.Namespace) + targets.Count;
        }

        long bytes = 0;
        for (int b = 0; b < batches.Count; b++)
            if (rowsByBatch[b].Count > 0)
                bytes += await batchFiles.WritePartAsync(tenant, job.Destination.DatasetId!, batches[b], shard, rowsByBatch[b], ct);
        return new ShardResult(shard, rowsByBatch.Select(r => (long)r.Count).ToArray(), byNamespace, bySegment, bytes);
    }

    /// <summary>The shard's profiles, merged. Fragments come oldest first; a rule that needs another order holds them per identity.</summary>
    private async IAsyncEnumerable<MergedProfile> MergeAsync(Tenant tenant, int shard, MergeRule rule, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (rule.FollowsIngestOrder)
        {
            var merged = new Dictionary<Identity, MergedProfile>();
            await foreach (var fragment in profiles.ReadShardAsync(tenant, shard, ct))
            {
                if (!merged.TryGetValue(fragment.Identity, out var profile)) merged[fragment.Identity] = profile = new MergedProfile(fragment.Identity);
                profile.MergeNewer(fragment);
            }
            foreach (var profile in merged.Values) yield return profile;
            yield break;
        }

        var fragments = new Dictionary<Identity, List<ProfileFragment>>();
        await foreach (var fragment in profiles.ReadShardAsync(tenant, shard, ct))
        {
            if (!fragments.TryGetValue(fragment.Identity, out var list)) fragments[fragment.Identity] = list = [];
            list.Add(fragment);
        }
        foreach (var (identity, list) in fragments) yield return rule.Merge(identity, list);
    }
}
