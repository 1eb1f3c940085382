using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Profiles;

/// <summary>Reads one NDJSON line of an ingestion batch: whether it is a record to keep, its primary identity, or why it is rejected.</summary>
public static class ProfileRecordParser
{
    /// <summary>How deep a line's values may nest.</summary>
    public const int MaxDepth = 64;

    /// <summary>A profile record from one line's UTF-8 bytes: it must be valid UTF-8, valid JSON without duplicate members or lone surrogates, and have a primary identity.</summary>
    public static bool TryParse(ReadOnlyMemory<byte> line, out Identity primary, out string? reason) => TryRead(line, isEvent: false, null, out primary, out reason);

    public static bool TryParse(string line, out Identity primary, out string? reason) => TryParse(Encoding.UTF8.GetBytes(line), out primary, out reason);

    /// <summary>
    /// A line of a dataset, a profile record or an event (which also needs a string <c>_id</c> and an RFC 3339
    /// <c>timestamp</c>), which must fit <paramref name="schema"/> when there is one. Read once, token by token, for all
    /// of its checks at the same time (<see cref="LineChecks"/>), never built as a document or as nodes: ingestion reads
    /// every line this way. Reasons come in this order: not UTF-8; a lone surrogate; not JSON (a duplicate member
    /// included); not an object; its identities; its memberships (an event's id and time); its schema.
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
        return (LineChecks.OfThisThread ??= new LineChecks()).TryRead(line, isEvent, schema, out primary, out reason);
    }

    /// <summary>The checks of one line, reused line after line by one thread.</summary>
    private sealed class LineChecks
    {
        [ThreadStatic] public static LineChecks? OfThisThread;

        private static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = MaxDepth };

        private enum RootMember { Other, IdentityMap, SegmentMembership, EventId, EventTime }

        private readonly DuplicateNames _names = new();
        private readonly IdentityMapCheck _identities = new();
        private readonly MembershipCheck _memberships = new();
        private readonly SchemaCheck _schema = new();

        public bool TryRead(ReadOnlyMemory<byte> line, bool isEvent, SchemaNode? schema, out Identity primary, out string? reason)
        {
            primary = default;
            _names.Start();
            _identities.Start();
            _memberships.Start(line);
            if (schema is not null) _schema.Start(schema, line);
            bool isObject = false, eventHasId = false, eventHasTime = false;
            string? duplicate = null;
            var member = RootMember.Other;
            var reader = new Utf8JsonReader(line.Span, ReaderOptions);
            try
            {
                while (reader.Read())
                {
                    var token = reader.TokenType;
                    if (reader.ValueIsEscaped && token is JsonTokenType.String or JsonTokenType.PropertyName && EscapesLoneSurrogate(ref reader))
                    {
                        reason = @"not valid JSON text: a string escapes half of a surrogate pair alone (\ud800-\udfff).";
                        return false;
                    }
                    duplicate ??= _names.Read(ref reader);
                    if (schema is not null) _schema.Read(ref reader);
                    int depth = reader.CurrentDepth;
                    if (depth == 0)
                    {
                        isObject |= token == JsonTokenType.StartObject;
                        continue;
                    }
                    if (!isObject) continue;
                    if (depth == 1 && token == JsonTokenType.PropertyName)
                    {
                        member = reader.ValueTextEquals(IdentityMap.Member) ? RootMember.IdentityMap
                            : !isEvent && reader.ValueTextEquals(ExportSelection.SegmentMembership) ? RootMember.SegmentMembership
                            : isEvent && reader.ValueTextEquals("_id"u8) ? RootMember.EventId
                            : isEvent && reader.ValueTextEquals("timestamp"u8) ? RootMember.EventTime
                            : RootMember.Other;
                        continue;
                    }
                    switch (member)
                    {
                        case RootMember.IdentityMap:
                            _identities.Read(ref reader, depth - 1);
                            break;
                        case RootMember.SegmentMembership:
                            _memberships.Read(ref reader, depth - 1);
                            break;
                        case RootMember.EventId when depth == 1:
                            eventHasId = token == JsonTokenType.String && reader.ValueSpan.Length > 0;
                            member = RootMember.Other;
                            break;
                        case RootMember.EventTime when depth == 1:
                            eventHasTime = Rfc3339.TryParse(ref reader, out _);
                            member = RootMember.Other;
                            break;
                    }
                }
            }
            catch (JsonException e)
            {
                reason = $"not valid JSON: {e.Message}";
                return false;
            }
            // A repeated name is told as System.Text.Json tells it (its first 15 characters), as lines were read before.
            reason = duplicate is not null ? $"not valid JSON: Duplicate property '{(duplicate.Length > 15 ? duplicate[..15] + "..." : duplicate)}' encountered during deserialization."
                : !isObject ? "a record must be a JSON object."
                : !_identities.TryFinish(out primary, out string? noPrimary) ? noPrimary
                : isEvent && !eventHasId ? "an event needs a string _id."
                : isEvent && !eventHasTime ? "an event needs an RFC 3339 timestamp."
                : _memberships.Error
                ?? (schema is not null && _schema.Misfit is { } misfit ? $"does not fit the dataset's schema: {misfit}" : null);
            return reason is null;
        }

        /// <summary>Whether the string or member name the reader is on escapes half of a surrogate pair alone: valid JSON syntax, but no text (it could not be compared, stored or written out).</summary>
        private static bool EscapesLoneSurrogate(ref Utf8JsonReader reader)
        {
            try
            {
                reader.GetString();
                return false;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }
}
