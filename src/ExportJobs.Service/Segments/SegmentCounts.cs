using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Workflow;

namespace ExportJobs.Service.Segments;

/// <summary>
/// One segment's figures in a shard group, counted from each evaluated profile's memberships: read through the
/// profile's fragments, as evaluation left them (a profile whose memberships changed is not built again as nodes).
/// </summary>
internal sealed class SegmentCounts
{
    private long _realized, _exited;
    private readonly Dictionary<string, long> _byNamespace = new(StringComparer.Ordinal);

    public void Count(string segmentId, ShardProfile profile)
    {
        if (StatusOf(profile.Profile.Value, segmentId) == ExportJobRequestValidator.Realized)
        {
            _realized++;
            _byNamespace[profile.Identity.Namespace] = _byNamespace.GetValueOrDefault(profile.Identity.Namespace) + 1;
        }
        else if (profile.Changed is { } changed && StatusOf(MergedValue.Of(changed), segmentId) == ExportJobRequestValidator.Exited) _exited++;
    }

    public SegmentTally ToResult() => new(_realized, _exited, _byNamespace);

    private static string? StatusOf(MergedValue record, string segmentId) =>
        ExportSelection.TryGetMembership(record, SegmentEvaluation.Namespace, segmentId, out var entry) && ExportSelection.TryGetStatus(entry, out var status)
            ? status.GetString() : null;
}
