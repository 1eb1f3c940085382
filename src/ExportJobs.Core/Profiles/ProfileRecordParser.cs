using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Profiles;

/// <summary>Reads one NDJSON line of an ingestion batch: whether it is a record to keep, its primary identity, or why it is rejected.</summary>
public static class ProfileRecordParser
{
    /// <summary>How a line is parsed. Duplicate members are refused: which of two values a record "has" would otherwise depend on the reader.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowTrailingCommas = false, AllowDuplicateProperties = false };

    /// <summary>A profile record from one line's UTF-8 bytes: it must be valid UTF-8, valid JSON without duplicate members or lone surrogates, and have a primary identity.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> line, out Identity primary, out string? reason) => TryRead(line, isEvent: false, null, out primary, out reason);

    public static bool TryParse(string line, out Identity primary, out string? reason) => TryParse(Encoding.UTF8.GetBytes(line), out primary, out reason);

    /// <summary>
    /// A line of a dataset, a profile record or an event (which also needs a string <c>_id</c> and an RFC 3339
    /// <c>timestamp</c>), which must fit <paramref name="schema"/> when there is one. Read through a pooled document,
    /// never built as nodes: ingestion reads every line this way.
    /// </summary>
    public static bool TryRead(ReadOnlyMemory<byte> line, bool isEvent, SchemaNode? schema, out Identity primary, out string? reason)
    {
        primary = default;
        // Checked before parsing: a decoder would make two ids that differ only in invalid bytes one id (U+FFFD).
        if (!Utf8.IsValid(line.Span))
        {
            reason = "not valid UTF-8.";
            return false;
        }
        if (HasLoneSurrogate(line.Span))
        {
            reason = @"not valid JSON text: a string escapes half of a surrogate pair alone (\ud800-\udfff).";
            return false;
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, DocumentOptions);
        }
        catch (JsonException e)
        {
            reason = $"not valid JSON: {e.Message}";
            return false;
        }
        using (document)
        {
            var record = document.RootElement;
            if (record.ValueKind != JsonValueKind.Object)
            {
                reason = "a record must be a JSON object.";
                return false;
            }
            if (!IdentityMap.TryGetPrimary(record, out primary, out reason) ||
                !(isEvent ? EventIsWellFormed(record, out reason) : SegmentMembershipIsWellFormed(record, out reason)))
                return false;
            if (schema?.Check(record, "") is { } misfit)
            {
                reason = $"does not fit the dataset's schema: {misfit}";
                return false;
            }
            return true;
        }
    }

    private static bool EventIsWellFormed(JsonElement record, out string? reason)
    {
        reason = null;
        if (!record.TryGetProperty("_id", out var id) || id.ValueKind != JsonValueKind.String || id.GetString()!.Length == 0)
            reason = "an event needs a string _id.";
        else if (!record.TryGetProperty("timestamp", out var time) || !Rfc3339.TryParse(time, out _))
            reason = "an event needs an RFC 3339 timestamp.";
        return reason is null;
    }

    /// <summary>
    /// Whether a string or member name escapes half of a surrogate pair alone: valid JSON syntax, but no text — it could
    /// not be compared, stored or written out. Only lines with a <c>\u</c> escape are read for it.
    /// </summary>
    private static bool HasLoneSurrogate(ReadOnlySpan<byte> line)
    {
        if (line.IndexOf("\\u"u8) < 0) return false;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth });
        try
        {
            while (reader.Read())
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped) reader.GetString();
            return false;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
        catch (JsonException)
        {
            return false; // Not JSON at all: the parse that follows says so.
        }
    }

    private static bool SegmentMembershipIsWellFormed(JsonElement record, out string? reason)
    {
        reason = null;
        if (!record.TryGetProperty(ExportSelection.SegmentMembership, out var membership) || membership.ValueKind == JsonValueKind.Null) return true;
        if (membership.ValueKind != JsonValueKind.Object)
        {
            reason = "segmentMembership must be an object {namespace: {segmentId: {status, lastQualificationTime}}}.";
            return false;
        }
        foreach (var ns in membership.EnumerateObject())
        {
            if (ns.Value.ValueKind != JsonValueKind.Object)
            {
                reason = $"segmentMembership.{ns.Name} must be an object keyed by segment id.";
                return false;
            }
            foreach (var segment in ns.Value.EnumerateObject())
            {
                var entry = segment.Value;
                if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty(ExportSelection.StatusMember, out var status) || status.ValueKind != JsonValueKind.String ||
                    !(status.ValueEquals("realized"u8) || status.ValueEquals("exited"u8)))
                {
                    reason = $"segmentMembership.{ns.Name}.{segment.Name}.status must be \"realized\" or \"exited\".";
                    return false;
                }
                if (entry.TryGetProperty(ExportSelection.QualificationTimeMember, out var time) && time.ValueKind != JsonValueKind.Null &&
                    !Rfc3339.TryParse(time, out _))
                {
                    reason = $"segmentMembership.{ns.Name}.{segment.Name}.lastQualificationTime must be an RFC 3339 date-time.";
                    return false;
                }
            }
        }
        return true;
    }
}
