using System.Text;
using System.Text.Json;

namespace ExportJobs.Core.Schemas;

/// <summary>
/// Checks a JSON value against a <see cref="SchemaNode"/> as a reader passes over its tokens, so that a line is read
/// once for all of its checks (<see cref="Profiles.ProfileRecordParser"/>). Finds the first way the value does not fit,
/// in the order of its text — an object's required properties at the object's end — as "path: reason", or none. A
/// JSON null fits anything, and anything fits <see cref="SchemaNode.Any"/>. Paths are built only for a misfit.
/// </summary>
public sealed class SchemaCheck
{
    private Frame[] _frames = new Frame[8];
    private int _open;
    /// <summary>How deep the reader is inside a value that fits whatever it holds (its containers not yet closed).</summary>
    private int _skipping;
    private SchemaNode _root = SchemaNode.Any;
    private ReadOnlyMemory<byte> _json;

    /// <summary>The first misfit ("path: reason"), once found; the tokens after it are not looked at.</summary>
    public string? Misfit { get; private set; }

    /// <summary>The first way <paramref name="json"/> (one JSON value, valid) does not fit <paramref name="schema"/>, or null when it fits.</summary>
    public static string? Of(SchemaNode schema, ReadOnlyMemory<byte> json)
    {
        var check = new SchemaCheck();
        check.Start(schema, json);
        var reader = new Utf8JsonReader(json.Span);
        while (check.Misfit is null && reader.Read()) check.Read(ref reader);
        return check.Misfit;
    }

    /// <summary>Starts a check of the value <paramref name="json"/> holds, whose tokens <see cref="Read"/> is then given in order.</summary>
    public void Start(SchemaNode schema, ReadOnlyMemory<byte> json)
    {
        (_root, _json, _open, _skipping, Misfit) = (schema, json, 0, 0, null);
    }

    public void Read(ref Utf8JsonReader reader)
    {
        if (Misfit is not null) return;
        var token = reader.TokenType;
        if (_skipping > 0)
        {
            if (token is JsonTokenType.StartObject or JsonTokenType.StartArray) _skipping++;
            else if (token is JsonTokenType.EndObject or JsonTokenType.EndArray) _skipping--;
            return;
        }
        switch (token)
        {
            case JsonTokenType.PropertyName:
                ReadName(ref reader);
                break;
            case JsonTokenType.EndObject:
                EndObject();
                break;
            case JsonTokenType.EndArray:
                _open--;
                break;
            default:
                ReadValue(ref reader);
                break;
        }
    }

    private void ReadName(ref Utf8JsonReader reader)
    {
        ref var frame = ref _frames[_open - 1];
        frame.Name = TokenText.Of(ref reader);
        if (frame.Node.Kind == SchemaKind.Map)
        {
            (frame.Pending, frame.PendingRequired) = (frame.Node.Items!, -1);
            return;
        }
        if (frame.Node.PropertyOf(ref reader, out frame.PendingRequired) is { } property) frame.Pending = property;
        else Fail(frame.Name.In(_json.Span), "not in the schema.");
    }

    private void ReadValue(ref Utf8JsonReader reader)
    {
        var token = reader.TokenType;
        SchemaNode node = _root;
        if (_open > 0)
        {
            ref var parent = ref _frames[_open - 1];
            if (parent.Node.Kind == SchemaKind.Array)
            {
                node = parent.Node.Items!;
                parent.Item++;
            }
            else
            {
                node = parent.Pending!;
                if (parent.PendingRequired >= 0 && token != JsonTokenType.Null) parent.Seen(parent.PendingRequired);
            }
        }
        bool container = token is JsonTokenType.StartObject or JsonTokenType.StartArray;
        if (node.Kind == SchemaKind.Any || token == JsonTokenType.Null)
        {
            if (container) _skipping = 1;
            return;
        }
        switch (node.Kind)
        {
            case SchemaKind.Object or SchemaKind.Map when token == JsonTokenType.StartObject:
            case SchemaKind.Array when token == JsonTokenType.StartArray:
                Open(node);
                return;
            case SchemaKind.Object or SchemaKind.Map:
                FailHere("expected an object.");
                return;
            case SchemaKind.Array:
                FailHere("expected an array.");
                return;
        }
        bool fits = node.Kind switch
        {
            SchemaKind.String => token == JsonTokenType.String,
            SchemaKind.DateTime => Rfc3339.TryParse(ref reader, out _),
            SchemaKind.Number => token == JsonTokenType.Number,
            SchemaKind.Integer => token == JsonTokenType.Number && reader.TryGetInt64(out _),
            SchemaKind.Boolean => token is JsonTokenType.True or JsonTokenType.False,
            _ => false,
        };
        if (!fits) FailHere($"expected {SchemaNode.Describe(node.Kind)}.");
    }

    private void Open(SchemaNode node)
    {
        if (_open == _frames.Length) Array.Resize(ref _frames, _open * 2);
        _frames[_open++] = new Frame { Node = node, Item = -1 };
    }

    private void EndObject()
    {
        ref var frame = ref _frames[_open - 1];
        if (frame.Node.Kind == SchemaKind.Object)
        {
            var required = frame.Node.RequiredInOrder;
            for (int i = 0; i < required.Count; i++)
                if (!frame.WasSeen(i))
                {
                    Fail(required[i], "required.");
                    return;
                }
        }
        _open--;
    }

    /// <summary>A misfit of the value the reader is on, named by its place in the innermost open container.</summary>
    private void FailHere(string reason) => Fail(null, reason, entry: true);

    /// <summary>
    /// Records the misfit at the path of the open containers (each named by its place in the one around it), then the
    /// place of the value being read (<paramref name="entry"/>) or a member <paramref name="name"/> of the innermost one.
    /// </summary>
    private void Fail(string? name, string reason, bool entry = false)
    {
        var path = new StringBuilder();
        for (int i = 1; i < _open; i++) AppendEntry(path, _frames[i - 1]);
        if (entry && _open > 0) AppendEntry(path, _frames[_open - 1]);
        if (name is not null) path.Append('.').Append(name);
        string text = path.ToString();
        Misfit = $"{(text.StartsWith('.') ? text[1..] : text)}: {reason}";
    }

    private void AppendEntry(StringBuilder path, in Frame parent)
    {
        if (parent.Node.Kind == SchemaKind.Array) path.Append('[').Append(parent.Item).Append(']');
        else path.Append('.').Append(parent.Name.In(_json.Span));
    }

    /// <summary>An open object, map or array of the value, with what its next value is checked against.</summary>
    private struct Frame
    {
        public SchemaNode Node;
        /// <summary>In an object or a map: the last member name, the schema of its value and its place among the required properties.</summary>
        public TokenText Name;
        public SchemaNode? Pending;
        public int PendingRequired;
        /// <summary>In an array: the index of the item being read.</summary>
        public int Item;
        private ulong _seen;
        private bool[]? _seenMore;

        public void Seen(int required)
        {
            if (required < 64) _seen |= 1UL << required;
            else (_seenMore ??= new bool[Node.RequiredInOrder.Count])[required] = true;
        }

        public readonly bool WasSeen(int required) => required < 64 ? (_seen & (1UL << required)) != 0 : _seenMore?[required] == true;
    }
}
