using System.Text.Json;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// Finds a record's primary identity as a reader passes over its <c>identityMap</c> (<see cref="ProfileRecordParser"/>
/// reads a line once for all of its checks): the first problem in the map's order, or, at the end, the identity marked
/// primary, or the only one when none is marked.
/// </summary>
public sealed class IdentityMapCheck
{
    private enum Expect { Nothing, Id, Primary }

    private string? _error, _namespace, _id;
    private bool _isMap, _hasNamespace, _idIsString, _isPrimary;
    private Expect _next;
    private int _count;
    private Identity? _marked, _only;

    public void Start() => (_error, _namespace, _isMap, _hasNamespace, _next, _count, _marked, _only) = (null, null, false, false, Expect.Nothing, 0, null, null);

    /// <summary>Reads one token of the map's value; <paramref name="depth"/> is 0 for the value itself, 1 for its members, and so on.</summary>
    public void Read(ref Utf8JsonReader reader, int depth)
    {
        if (_error is not null) return;
        var token = reader.TokenType;
        switch (depth)
        {
            case 0:
                if (token == JsonTokenType.StartObject) _isMap = true;
                return;
            case 1 when _isMap && token == JsonTokenType.PropertyName:
                _namespace = reader.GetString()!;
                _hasNamespace = true;
                if (!Ids.IsNamespace(_namespace)) _error = "identityMap has a namespace outside [A-Za-z0-9._-] or longer than 64.";
                return;
            case 1 when _isMap:
                if (token is not (JsonTokenType.StartArray or JsonTokenType.EndArray)) _error = $"identityMap.{_namespace} must be an array of identities.";
                return;
            case 2 when _isMap:
                if (token == JsonTokenType.StartObject) (_id, _idIsString, _isPrimary, _next) = (null, false, false, Expect.Nothing);
                else if (token == JsonTokenType.EndObject) EndEntry();
                else if (token != JsonTokenType.EndArray) _error = EntryWithoutId();
                return;
            case 3 when _isMap && token == JsonTokenType.PropertyName:
                _next = reader.ValueTextEquals("id"u8) ? Expect.Id : reader.ValueTextEquals("primary"u8) ? Expect.Primary : Expect.Nothing;
                return;
            case 3 when _isMap:
                if (_next == Expect.Id && token == JsonTokenType.String) (_id, _idIsString) = (reader.GetString(), true);
                else if (_next == Expect.Primary) _isPrimary = token == JsonTokenType.True;
                _next = Expect.Nothing;
                return;
        }
    }

    private void EndEntry()
    {
        if (!_idIsString || _id is not { Length: > 0 and <= IdentityMap.MaxIdLength } id)
        {
            _error = EntryWithoutId();
            return;
        }
        if (id.Any(char.IsControl))
        {
            _error = $"identityMap.{_namespace} has an id with a control character.";
            return;
        }
        _count++;
        _only = new Identity(_namespace!, id);
        if (!_isPrimary) return;
        if (_marked is not null) _error = "identityMap marks more than one identity as primary.";
        else _marked = _only;
    }

    private string EntryWithoutId() => $"identityMap.{_namespace} has an entry without a string id of 1 to {IdentityMap.MaxIdLength} characters.";

    /// <summary>Once the whole record is read (the map or not): its primary identity, or why it has none.</summary>
    public bool TryFinish(out Identity primary, out string? error)
    {
        primary = default;
        error = !_isMap || !_hasNamespace ? "identityMap is missing or empty." : _error;
        if (error is not null) return false;
        if (_marked is { } marked) primary = marked;
        else if (_count == 1) primary = _only!.Value;
        else error = "identityMap has several identities and none is marked primary.";
        return error is null;
    }
}
