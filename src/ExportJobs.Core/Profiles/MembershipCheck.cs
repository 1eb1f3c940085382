using System.Text.Json;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// Checks a record's <c>segmentMembership</c> as a reader passes over it (<see cref="ProfileRecordParser"/> reads a
/// line once for all of its checks): <c>{namespace: {segmentId: {status, lastQualificationTime}}}</c>, each status
/// <c>realized</c> or <c>exited</c>, each time RFC 3339 or null. The first problem in the value's order is kept; a
/// null value is no membership.
/// </summary>
public sealed class MembershipCheck
{
    private enum Expect { Nothing, Status, Time }

    private ReadOnlyMemory<byte> _line;
    private TokenText _namespace, _segment;
    private bool _isObject, _statusFits, _timeMisfits;
    private Expect _next;

    /// <summary>The first problem found, if any.</summary>
    public string? Error { get; private set; }

    public void Start(ReadOnlyMemory<byte> line) => (_line, _isObject, _next, Error) = (line, false, Expect.Nothing, null);

    /// <summary>Reads one token of the member's value; <paramref name="depth"/> is 0 for the value itself, 1 for its members, and so on.</summary>
    public void Read(ref Utf8JsonReader reader, int depth)
    {
        if (Error is not null) return;
        var token = reader.TokenType;
        switch (depth)
        {
            case 0:
                if (token == JsonTokenType.StartObject) _isObject = true;
                else if (token is not (JsonTokenType.Null or JsonTokenType.EndObject))
                    Error = "segmentMembership must be an object {namespace: {segmentId: {status, lastQualificationTime}}}.";
                return;
            case 1 when token == JsonTokenType.PropertyName:
                _namespace = TokenText.Of(ref reader);
                return;
            case 1:
                if (token is not (JsonTokenType.StartObject or JsonTokenType.EndObject))
                    Error = $"segmentMembership.{Name(_namespace)} must be an object keyed by segment id.";
                return;
            case 2 when token == JsonTokenType.PropertyName:
                _segment = TokenText.Of(ref reader);
                return;
            case 2:
                if (token == JsonTokenType.StartObject) (_statusFits, _timeMisfits, _next) = (false, false, Expect.Nothing);
                else if (token == JsonTokenType.EndObject) EndEntry();
                else Error = StatusError();
                return;
            case 3 when token == JsonTokenType.PropertyName:
                _next = reader.ValueTextEquals(ExportSelection.StatusMember) ? Expect.Status
                    : reader.ValueTextEquals(ExportSelection.QualificationTimeMember) ? Expect.Time : Expect.Nothing;
                return;
            case 3:
                if (_next == Expect.Status)
                    _statusFits = token == JsonTokenType.String && (reader.ValueTextEquals("realized"u8) || reader.ValueTextEquals("exited"u8));
                else if (_next == Expect.Time)
                    _timeMisfits = token != JsonTokenType.Null && !Rfc3339.TryParse(ref reader, out _);
                _next = Expect.Nothing;
                return;
        }
    }

    private void EndEntry()
    {
        if (!_statusFits) Error = StatusError();
        else if (_timeMisfits)
            Error = $"segmentMembership.{Name(_namespace)}.{Name(_segment)}.{ExportSelection.QualificationTimeMember} must be an RFC 3339 date-time.";
    }

    private string StatusError() => $"segmentMembership.{Name(_namespace)}.{Name(_segment)}.status must be \"realized\" or \"exited\".";

    private string Name(TokenText text) => text.In(_line.Span);
}
