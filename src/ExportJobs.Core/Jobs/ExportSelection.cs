using System.Text;
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
    /// <summary>Each requested segment's path in <c>segmentMembership</c> to its status, and its statuses, as UTF-8.</summary>
    private readonly List<(byte[][] Path, byte[][] Statuses)>? _statusPaths;
    private readonly DateTimeOffset? _qualifiedFrom;
    private readonly DateTimeOffset? _qualifiedTo;
    private readonly long? _updatedAfterMs;

    public ExportSelection(JobFilter? filter)
    {
        _segments = filter?.Segments?
            .Select(s => (s.SegmentNs ?? DefaultSegmentNamespace, s.SegmentId!, s.Status?.ToArray() ?? DefaultStatuses))
            .ToList();
        _statusPaths = _segments?.Select(s => (new[] { s.Ns, s.Id, StatusMember }.Select(Encoding.UTF8.GetBytes).ToArray(), s.Statuses.Select(Encoding.UTF8.GetBytes).ToArray())).ToList();
        if (Rfc3339.TryParse(filter?.SegmentQualificationTime?.StartTime, out var from)) _qualifiedFrom = from;
        if (Rfc3339.TryParse(filter?.SegmentQualificationTime?.EndTime, out var to)) _qualifiedTo = to;
        _updatedAfterMs = Rfc3339.ToEpochMs(filter?.FromIngestTimestamp);
    }

    /// <summary>Whether only members of requested segments are selected.</summary>
    public bool BySegment => _segments is not null;

    /// <summary>The top-level members of a profile the selection reads.</summary>
    public IEnumerable<string> MembersRead => _segments is null ? [] : [SegmentMembership];

    public const string SegmentMembership = "segmentMembership";
    /// <summary>The members of a segment's membership entry.</summary>
    public const string StatusMember = "status", QualificationTimeMember = "lastQualificationTime";

    /// <summary>
    /// Whether a fragment whose <c>segmentMembership</c> is <paramref name="membership"/> (its JSON) could make its
    /// profile qualify: whether it holds a requested status of a requested segment. A merged profile's status is one
    /// of its fragments', so a profile none of whose fragments could qualify is not included (the qualification time
    /// and the update time are left to <see cref="Includes(MergedProfile, List{int}, IReadOnlyList{int})"/>): what lets a read leave such
    /// profiles out before it parses them. True for every fragment when no segment is requested.
    /// </summary>
    public bool CouldQualify(ReadOnlySpan<byte> membership)
    {
        if (_statusPaths is null) return true;
        foreach (var (path, statuses) in _statusPaths)
        {
            var reader = new Utf8JsonReader(membership);
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject && Holds(ref reader, path, 0, statuses)) return true;
        }
        return false;
    }

    /// <summary>
    /// Whether the object the reader is on holds, down <paramref name="path"/> from <paramref name="depth"/>, a string
    /// that is one of <paramref name="texts"/> (names and values compared unescaped; a name given twice is looked at each time).
    /// </summary>
    private static bool Holds(ref Utf8JsonReader reader, byte[][] path, int depth, byte[][] texts)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool named = reader.ValueTextEquals(path[depth]);
            reader.Read();
            if (named && depth == path.Length - 1 && reader.TokenType == JsonTokenType.String)
            {
                foreach (var text in texts)
                    if (reader.ValueTextEquals(text)) return true;
            }
            else if (named && reader.TokenType == JsonTokenType.StartObject && depth < path.Length - 1)
            {
                if (Holds(ref reader, path, depth + 1, texts)) return true;
                continue;
            }
            reader.Skip();
        }
        return false;
    }

    public bool Includes(MergedProfile profile) => Includes(profile, []);

    /// <summary>How many segments the filter requests.</summary>
    public int SegmentCount => _segments?.Count ?? 0;

    /// <summary>Whether requested segment <paramref name="segment"/> is <paramref name="segmentId"/> of namespace <paramref name="ns"/> (UTF-8, unescaped).</summary>
    public bool Names(int segment, ReadOnlySpan<byte> ns, ReadOnlySpan<byte> segmentId)
    {
        var path = _statusPaths![segment].Path;
        return segmentId.SequenceEqual(path[1]) && ns.SequenceEqual(path[0]);
    }

    /// <summary>
    /// Whether a merged membership entry of requested segment <paramref name="segment"/> whose status is
    /// <paramref name="status"/> (UTF-8, unescaped) and whose qualification time is <paramref name="qualified"/> (null:
    /// none, or not a date-time) qualifies: as <see cref="Includes(MergedProfile, List{int}, IReadOnlyList{int})"/> decides from the profile.
    /// </summary>
    public bool Qualifies(int segment, ReadOnlySpan<byte> status, DateTimeOffset? qualified)
    {
        bool isOneOf = false;
        foreach (var text in _statusPaths![segment].Statuses) isOneOf |= status.SequenceEqual(text);
        return isOneOf && InWindow(qualified);
    }

    private bool InWindow(DateTimeOffset? qualified) =>
        (_qualifiedFrom is null && _qualifiedTo is null)
        || (qualified is { } time && (_qualifiedFrom is null || time >= _qualifiedFrom) && (_qualifiedTo is null || time <= _qualifiedTo));

    /// <summary>
    /// Whether the profile is exported, with <paramref name="matches"/> set to the indexes of the requested segments it
    /// qualifies for (none when it is not exported, or no segment is requested); those segments taken from
    /// <paramref name="decided"/> when a read already decided them (from the stored memberships index), the update time
    /// looked at either way.
    /// </summary>
    public bool Includes(MergedProfile profile, List<int> matches, IReadOnlyList<int>? decided = null)
    {
        matches.Clear();
        if (_updatedAfterMs is { } after && profile.UpdateTimeMs <= after) return false;
        if (_segments is null) return true;
        if (decided is not null) matches.AddRange(decided);
        else
            for (int i = 0; i < _segments.Count; i++)
                if (Qualifies(profile, i)) matches.Add(i);
        return matches.Count > 0;
    }

    private bool Qualifies(MergedProfile profile, int segment)
    {
        var (ns, id, statuses) = _segments![segment];
        return TryGetMembership(profile.Value, ns, id, out var entry) && Qualifies(entry, statuses);
    }

    /// <summary>A profile's (or a record's) membership entry of segment <paramref name="segmentId"/> in namespace <paramref name="ns"/>: false when it has none, or not an object.</summary>
    public static bool TryGetMembership(MergedValue profile, string ns, string segmentId, out MergedValue entry)
    {
        entry = default;
        return profile.TryGetProperty(SegmentMembership, out var membership) && membership.TryGetProperty(ns, out var inNamespace) &&
               inNamespace.TryGetProperty(segmentId, out entry) && entry.Kind == JsonValueKind.Object;
    }

    /// <summary>A membership entry's status: false when it has none, or not a string.</summary>
    public static bool TryGetStatus(MergedValue entry, out JsonElement status)
    {
        status = default;
        if (!entry.TryGetProperty(StatusMember, out var value) || value.Kind != JsonValueKind.String) return false;
        status = value.Element;
        return true;
    }

    private bool Qualifies(MergedValue entry, string[] statuses)
    {
        if (!TryGetStatus(entry, out var status) || !IsOneOf(status, statuses)) return false;
        if (_qualifiedFrom is null && _qualifiedTo is null) return true;
        return InWindow(entry.TryGetProperty(QualificationTimeMember, out var time) && time.Kind == JsonValueKind.String && Rfc3339.TryParse(time.Element, out var qualified)
            ? qualified : null);
    }

    /// <summary>Whether a JSON string is one of <paramref name="texts"/>, compared as the document holds it (no string made).</summary>
    private static bool IsOneOf(JsonElement value, string[] texts)
    {
        foreach (string text in texts)
            if (value.ValueEquals(text)) return true;
        return false;
    }
}
