using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace ExportJobs.Core.Profiles;

/// <summary>Reads one NDJSON line of an ingestion batch into a profile record, or says why it is rejected.</summary>
public static class ProfileRecordParser
{
    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };
    // Duplicate members are refused: which of two values a record "has" would otherwise depend on the reader.
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowTrailingCommas = false, AllowDuplicateProperties = false };

    /// <summary>An experience event: a record with a primary identity, a string <c>_id</c> and an RFC 3339 <c>timestamp</c>.</summary>
    public static bool TryParseEvent(ReadOnlySpan<byte> line, out JsonObject record, out Identity primary, out string? reason)
    {
        if (!TryParseObject(line, out record, out primary, out reason)) return false;
        if (record["_id"] is not JsonValue id || id.GetValueKind() != JsonValueKind.String || id.GetValue<string>().Length == 0)
        {
            reason = "an event needs a string _id.";
            return false;
        }
        if (record["timestamp"] is not JsonValue time || time.GetValueKind() != JsonValueKind.String || !Rfc3339.TryParse(time.GetValue<string>(), out _))
        {
            reason = "an event needs an RFC 3339 timestamp.";
            return false;
        }
        return true;
    }

    public static bool TryParse(string line, out JsonObject record, out Identity primary, out string? reason) =>
        TryParse(Encoding.UTF8.GetBytes(line), out record, out primary, out reason);

    /// <summary>A profile record from one line's UTF-8 bytes: it must be valid UTF-8, valid JSON without duplicate members or lone surrogates, and have a primary identity.</summary>
    public static bool TryParse(ReadOnlySpan<byte> line, out JsonObject record, out Identity primary, out string? reason)
    {
        if (!TryParseObject(line, out record, out primary, out reason)) return false;
        return SegmentMembershipIsWellFormed(record["segmentMembership"], out reason);
    }

    private static bool TryParseObject(ReadOnlySpan<byte> line, out JsonObject record, out Identity primary, out string? reason)
    {
        record = null!;
        primary = default;
        // Checked before parsing: a decoder would make two ids that differ only in invalid bytes one id (U+FFFD).
        if (!Utf8.IsValid(line))
        {
            reason = "not valid UTF-8.";
            return false;
        }
        if (HasLoneSurrogate(line))
        {
            reason = @"not valid JSON text: a string escapes half of a surrogate pair alone (\ud800-\udfff).";
            return false;
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line, NodeOptions, DocumentOptions);
        }
        catch (JsonException e)
        {
            reason = $"not valid JSON: {e.Message}";
            return false;
        }
        if (node is not JsonObject obj)
        {
            reason = "a record must be a JSON object.";
            return false;
        }
        if (!IdentityMap.TryGetPrimary(obj, out primary, out reason)) return false;
        record = obj;
        return true;
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

    private static bool SegmentMembershipIsWellFormed(JsonNode? membership, out string? reason)
    {
        reason = null;
        if (membership is null) return true;
        if (membership is not JsonObject namespaces)
        {
            reason = "segmentMembership must be an object {namespace: {segmentId: {status, lastQualificationTime}}}.";
            return false;
        }
        foreach (var (ns, segments) in namespaces)
        {
            if (segments is not JsonObject bySegment)
            {
                reason = $"segmentMembership.{ns} must be an object keyed by segment id.";
                return false;
            }
            foreach (var (segmentId, entry) in bySegment)
            {
                string path = $"segmentMembership.{ns}.{segmentId}";
                if (entry is not JsonObject e || e["status"] is not JsonValue status || status.GetValueKind() != JsonValueKind.String ||
                    status.GetValue<string>() is not ("realized" or "exited"))
                {
                    reason = $"{path}.status must be \"realized\" or \"exited\".";
                    return false;
                }
                if (e["lastQualificationTime"] is { } time &&
                    (time is not JsonValue tv || tv.GetValueKind() != JsonValueKind.String || !Rfc3339.TryParse(tv.GetValue<string>(), out _)))
                {
                    reason = $"{path}.lastQualificationTime must be an RFC 3339 date-time.";
                    return false;
                }
            }
        }
        return true;
    }
}
