using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Jobs;

/// <summary>
/// Which merged profiles a job exports, decided from its filter:
/// a profile qualifies when its merged <c>segmentMembership</c> has any requested segment with a requested status
/// (default <c>realized</c>, namespace default <c>ups</c>) whose <c>lastQualificationTime</c> lies in
/// <c>segmentQualificationTime</c> (both bounds inclusive), and when its update time is after <c>fromIngestTimestamp</c>.
/// No <c>filter.segments</c> means every profile.
/// </summary>
public sealed class ExportSelection
{
    public const string DefaultSegmentNamespace = "ups";
    private static readonly string[] DefaultStatuses = [ExportJobRequestValidator.Realized];

    private readonly List<(string Ns, string Id, string[] Statuses)>? _segments;
    private readonly DateTimeOffset? _qualifiedFrom;
    private readonly DateTimeOffset? _qualifiedTo;
    private readonly long? _updatedAfterMs;

    public ExportSelection(JobFilter? filter)
    {
        _segments = filter?.Segments?
            .Select(s => (s.SegmentNs ?? DefaultSegmentNamespace, s.SegmentId!, s.Status?.ToArray() ?? DefaultStatuses))
            .ToList();
        if (Rfc3339.TryParse(filter?.SegmentQualificationTime?.StartTime, out var from)) _qualifiedFrom = from;
        if (Rfc3339.TryParse(filter?.SegmentQualificationTime?.EndTime, out var to)) _qualifiedTo = to;
        _updatedAfterMs = Rfc3339.ToEpochMs(filter?.FromIngestTimestamp);
    }

    /// <summary>The top-level members of a profile the selection reads.</summary>
    public IEnumerable<string> MembersRead => _segments is null ? [] : [SegmentMembership];

    private const string SegmentMembership = "segmentMembership";

    public bool Includes(MergedProfile profile) => Includes(profile, []);

    /// <summary>Whether the profile is exported, with <paramref name="matches"/> set to the indexes of the requested segments it qualifies for (none when it is not exported, or no segment is requested).</summary>
    public bool Includes(MergedProfile profile, List<int> matches)
    {
        matches.Clear();
        if (_updatedAfterMs is { } after && profile.UpdateTimeMs <= after) return false;
        if (_segments is null) return true;
        for (int i = 0; i < _segments.Count; i++)
            if (Qualifies(profile, i)) matches.Add(i);
        return matches.Count > 0;
    }

    private bool Qualifies(MergedProfile profile, int segment)
    {
        var (ns, id, statuses) = _segments![segment];
        return profile.Value.TryGetProperty(SegmentMembership, out var membership) && membership.TryGetProperty(ns, out var inNamespace) &&
               inNamespace.TryGetProperty(id, out var entry) && entry.Kind == JsonValueKind.Object && Qualifies(entry, statuses);
    }

    private bool Qualifies(MergedValue entry, string[] statuses)
    {
        if (!entry.TryGetProperty("status", out var status) || status.Kind != JsonValueKind.String || !IsOneOf(status.Element, statuses))
            return false;
        if (_qualifiedFrom is null && _qualifiedTo is null) return true;
        if (!entry.TryGetProperty("lastQualificationTime", out var time) || time.Kind != JsonValueKind.String || !Rfc3339.TryParse(time.Element, out var qualified))
            return false;
        return (_qualifiedFrom is null || qualified >= _qualifiedFrom) && (_qualifiedTo is null || qualified <= _qualifiedTo);
    }

    /// <summary>Whether a JSON string is one of <paramref name="texts"/>, compared as the document holds it (no string made).</summary>
    private static bool IsOneOf(JsonElement value, string[] texts)
    {
        foreach (string text in texts)
            if (value.ValueEquals(text)) return true;
        return false;
    }
}
