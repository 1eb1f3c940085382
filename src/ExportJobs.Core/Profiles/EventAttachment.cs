using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// <c>additionalFields.eventList</c>: the experience events attached to each exported profile, as an array in the
/// profile's <see cref="Column"/>, ordered by event timestamp; a profile with no event in the window has no such column. Only events ingested strictly after
/// <c>fromIngestTimestamp</c> and strictly before <c>toIngestTimestamp</c> are kept; <c>fields</c> projects each event.
/// </summary>
public sealed class EventAttachment
{
    public const string Column = "events";
    /// <summary>The members that order an event list: its time, then its id.</summary>
    private const string TimestampMember = "timestamp", IdMember = "_id";

    private readonly FieldProjection _projection;
    private readonly long? _fromMs;
    private readonly long? _toMs;

    private EventAttachment(EventList list)
    {
        _projection = FieldProjection.Parse(list.Fields);
        _fromMs = Rfc3339.ToEpochMs(list.Filter?.FromIngestTimestamp);
        _toMs = Rfc3339.ToEpochMs(list.Filter?.ToIngestTimestamp);
    }

    /// <summary>The top-level members of events the attachment reads: those its fields go through, and the ordering's <c>timestamp</c> and <c>_id</c>; null for every field.</summary>
    public IReadOnlySet<string>? MembersRead =>
        _projection.IsAll ? null : _projection.TopLevelNames.Concat([TimestampMember, IdMember]).ToHashSet(StringComparer.Ordinal);

    /// <summary>The attachment a job asks for, or null when it asks for no events.</summary>
    public static EventAttachment? For(ExportJob job) => job.AdditionalFields?.EventList is { } list ? new EventAttachment(list) : null;

    public JsonArray? Attach(IEnumerable<ProfileFragment> events) => Nonempty(events
        .Where(e => (_fromMs is null || e.IngestTimeMs > _fromMs) && (_toMs is null || e.IngestTimeMs < _toMs))
        .Select(e => e.RecordObject())
        .OrderBy(Timestamp).ThenBy(e => (string?)e[IdMember], StringComparer.Ordinal)
        .Select(e => (JsonNode)_projection.Apply(e))
        .ToArray());

    private static JsonArray? Nonempty(JsonNode[] items) => items.Length == 0 ? null : new JsonArray(items);

    private static DateTimeOffset Timestamp(JsonObject record) =>
        record[TimestampMember] is JsonValue v && v.GetValueKind() == JsonValueKind.String && Rfc3339.TryParse(v.GetValue<string>(), out var t) ? t : DateTimeOffset.MinValue;
}
