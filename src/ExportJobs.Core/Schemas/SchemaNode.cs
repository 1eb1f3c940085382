using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExportJobs.Core.Schemas;

[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The JSON Schema type names a dataset schema is written in.")]
public enum SchemaKind { Object, Map, Array, String, DateTime, Number, Integer, Boolean, Any }

/// <summary>
/// A dataset schema: the subset of JSON Schema this service speaks. <c>{"type":"object","properties":{…},"required":[…]}</c>
/// (no other members allowed), <c>{"type":"object","additionalProperties":{…}}</c> (a map), <c>{"type":"array","items":{…}}</c>,
/// <c>string</c> (optionally <c>"format":"date-time"</c>), <c>number</c>, <c>integer</c>, <c>boolean</c>, and <c>{}</c> for
/// any value (written to Parquet as JSON text).
/// </summary>
public sealed class SchemaNode
{
    private static readonly HashSet<string> Keywords = ["type", "properties", "required", "additionalProperties", "items", "format", "description", "title"];

    public SchemaKind Kind { get; private init; }
    private readonly Dictionary<string, SchemaNode> _properties = [];

    public IReadOnlyDictionary<string, SchemaNode> Properties
    {
        get => _properties;
        private init => _properties = value as Dictionary<string, SchemaNode> ?? new(value, StringComparer.Ordinal);
    }

    public IReadOnlySet<string> Required { get; private init; } = new HashSet<string>();
    /// <summary>The items of an array, or the values of a map.</summary>
    public SchemaNode? Items { get; private init; }

    public static SchemaNode Any { get; } = new() { Kind = SchemaKind.Any };

    public static SchemaNode Of(SchemaKind kind, SchemaNode? items = null, Dictionary<string, SchemaNode>? properties = null) =>
        new() { Kind = kind, Items = items, Properties = properties ?? [] };

    /// <summary>Reads a definition; every problem is added with its path inside the definition.</summary>
    public static SchemaNode? Parse(JsonNode? definition, string path, ProblemList problems, int depth = 0)
    {
        if (depth > 32)
        {
            problems.Add(path, "the schema nests deeper than 32 levels.");
            return null;
        }
        if (definition is not JsonObject obj)
        {
            problems.Add(path, "a schema is a JSON object with a type.");
            return null;
        }
        foreach (var (keyword, _) in obj)
            if (!Keywords.Contains(keyword)) problems.Add($"{path}.{keyword}", $"'{keyword}' is not part of the supported JSON Schema subset.");
        if (obj["type"] is null && !obj.Any(kv => kv.Key is "properties" or "items" or "additionalProperties" or "format")) return Any;
        string? type = obj["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
        switch (type)
        {
            case "object":
                if (obj["additionalProperties"] is JsonObject values && obj["properties"] is null)
                    return Parse(values, $"{path}.additionalProperties", problems, depth + 1) is { } value ? new SchemaNode { Kind = SchemaKind.Map, Items = value } : null;
                if (obj["properties"] is not JsonObject properties)
                {
                    problems.Add($"{path}.properties", "an object schema lists its properties (or, for a map, only additionalProperties).");
                    return null;
                }
                var parsed = new Dictionary<string, SchemaNode>(StringComparer.Ordinal);
                foreach (var (name, property) in properties)
                {
                    if (!XdmName.IsFieldName(name)) problems.Add($"{path}.properties.{name}", $"a property name is an XDM name: {XdmName.FieldRule}.");
                    else if (Parse(property, $"{path}.properties.{name}", problems, depth + 1) is { } node) parsed[name] = node;
                }
                var required = new HashSet<string>(StringComparer.Ordinal);
                if (obj["required"] is JsonArray list)
                    foreach (var item in list)
                        if (item is JsonValue v && v.GetValueKind() == JsonValueKind.String && parsed.ContainsKey(v.GetValue<string>())) required.Add(v.GetValue<string>());
                        else problems.Add($"{path}.required", "required lists names of the object's properties.");
                return new SchemaNode { Kind = SchemaKind.Object, Properties = parsed, Required = required };
            case "array":
                return Parse(obj["items"], $"{path}.items", problems, depth + 1) is { } items ? new SchemaNode { Kind = SchemaKind.Array, Items = items } : null;
            case "string":
                string? format = obj["format"] switch
                {
                    null => null,
                    JsonValue f when f.GetValueKind() == JsonValueKind.String => f.GetValue<string>(),
                    _ => "",
                };
                if (format is not (null or "date-time")) problems.Add($"{path}.format", "the only supported format is date-time.");
                return new SchemaNode { Kind = format == "date-time" ? SchemaKind.DateTime : SchemaKind.String };
            case "number": return new SchemaNode { Kind = SchemaKind.Number };
            case "integer": return new SchemaNode { Kind = SchemaKind.Integer };
            case "boolean": return new SchemaNode { Kind = SchemaKind.Boolean };
            default:
                problems.Add($"{path}.type", "type is object, array, string, number, integer or boolean.");
                return null;
        }
    }

    /// <summary>The first way <paramref name="value"/> does not fit, as "path: reason", or null when it fits (a JSON null fits anything).</summary>
    public string? Check(JsonElement value, string path) =>
        Misfit(value) is { } misfit ? $"{(path.Length == 0 && misfit.Path.StartsWith('.') ? misfit.Path[1..] : path + misfit.Path)}: {misfit.Reason}" : null;

    /// <summary>
    /// The first way <paramref name="value"/> does not fit: where, relative to it (empty for itself, <c>.a.b</c>,
    /// <c>[2].c</c>…), and why. Paths are built only for a value that does not fit: every ingested line is checked.
    /// </summary>
    private (string Path, string Reason)? Misfit(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null || Kind == SchemaKind.Any) return null;
        switch (Kind)
        {
            case SchemaKind.Object:
                if (value.ValueKind != JsonValueKind.Object) return ("", "expected an object.");
                foreach (var member in value.EnumerateObject())
                {
                    if (PropertyOf(member) is not { } property) return ("." + member.Name, "not in the schema.");
                    if (property.Misfit(member.Value) is { } inner) return ("." + member.Name + inner.Path, inner.Reason);
                }
                foreach (string name in Required)
                    if (!value.TryGetProperty(name, out var required) || required.ValueKind == JsonValueKind.Null) return ("." + name, "required.");
                return null;
            case SchemaKind.Map:
                if (value.ValueKind != JsonValueKind.Object) return ("", "expected an object.");
                foreach (var member in value.EnumerateObject())
                    if (Items!.Misfit(member.Value) is { } inner) return ("." + member.Name + inner.Path, inner.Reason);
                return null;
            case SchemaKind.Array:
                if (value.ValueKind != JsonValueKind.Array) return ("", "expected an array.");
                int i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    if (Items!.Misfit(item) is { } inner) return ($"[{i}]{inner.Path}", inner.Reason);
                    i++;
                }
                return null;
        }
        var kind = value.ValueKind;
        bool fits = Kind switch
        {
            SchemaKind.String => kind == JsonValueKind.String,
            SchemaKind.DateTime => Rfc3339.TryParse(value, out _),
            SchemaKind.Number => kind == JsonValueKind.Number,
            SchemaKind.Integer => kind == JsonValueKind.Number && value.TryGetInt64(out _),
            SchemaKind.Boolean => kind is JsonValueKind.True or JsonValueKind.False,
            _ => false,
        };
        return fits ? null : ("", $"expected {Describe(Kind)}.");
    }

    /// <summary>
    /// The schema of an object's member, found by its name's UTF-8 text as the document holds it: a line's member names
    /// are not made into strings (every ingested line is checked), unless escaped.
    /// </summary>
    private SchemaNode? PropertyOf(JsonProperty member)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(member);
        if (raw.Length > MaxUnescapedName || raw.IndexOf((byte)'\\') >= 0)
            return Properties.TryGetValue(member.Name, out var named) ? named : null;
        if (_properties.Count <= MaxScannedProperties)
        {
            foreach (var (utf8, node) in _byUtf8 ??= _properties.Select(p => (Encoding.UTF8.GetBytes(p.Key), p.Value)).ToArray())
                if (raw.SequenceEqual(utf8)) return node;
            return null;
        }
        Span<char> name = stackalloc char[MaxUnescapedName];
        int length = Encoding.UTF8.GetChars(raw, name);
        return _properties.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name[..length], out var property) ? property : null;
    }

    private const int MaxUnescapedName = 256;

    /// <summary>
    /// Up to this many properties, a member's name is found by comparing its bytes with each property's UTF-8 name
    /// (<see cref="_byUtf8"/>), faster than decoding it to look it up; with more, it is looked up.
    /// </summary>
    private const int MaxScannedProperties = 16;

    /// <summary>The properties by their names' UTF-8 bytes, made on first use when there are at most <see cref="MaxScannedProperties"/> (ingestions that race to make it make the same).</summary>
    private (byte[] Utf8, SchemaNode Node)[]? _byUtf8;

    /// <summary>Whether a dotted path names something this schema can hold (any path inside a map or an Any).</summary>
    public bool HasPath(IReadOnlyList<string> path, int from = 0)
    {
        if (from == path.Count || Kind is SchemaKind.Any or SchemaKind.Map) return true;
        return Kind switch
        {
            SchemaKind.Object => Properties.TryGetValue(path[from], out var property) && property.HasPath(path, from + 1),
            SchemaKind.Array => Items!.HasPath(path, from),
            _ => false,
        };
    }

    /// <summary>A schema holding what either holds; where the two disagree in kind, <see cref="Any"/>.</summary>
    public static SchemaNode Union(SchemaNode a, SchemaNode b)
    {
        if (a.Kind == SchemaKind.Any || b.Kind == SchemaKind.Any) return Any;
        if (a.Kind != b.Kind)
            return (a.Kind, b.Kind) is (SchemaKind.Integer, SchemaKind.Number) or (SchemaKind.Number, SchemaKind.Integer) ? Of(SchemaKind.Number) : Any;
        return a.Kind switch
        {
            SchemaKind.Object => new SchemaNode
            {
                Kind = SchemaKind.Object,
                Properties = a.Properties.Keys.Union(b.Properties.Keys).ToDictionary(k => k,
                    k => a.Properties.TryGetValue(k, out var x) ? b.Properties.TryGetValue(k, out var y) ? Union(x, y) : x : b.Properties[k], StringComparer.Ordinal),
            },
            SchemaKind.Map or SchemaKind.Array => new SchemaNode { Kind = a.Kind, Items = Union(a.Items!, b.Items!) },
            _ => a,
        };
    }

    /// <summary>This schema with a property added (or replaced): how the service adds its system fields.</summary>
    public SchemaNode With(string name, SchemaNode property) => new()
    {
        Kind = Kind,
        Properties = new Dictionary<string, SchemaNode>(Properties, StringComparer.Ordinal) { [name] = property },
        Required = Required,
        Items = Items,
    };

    /// <summary>This schema as JSON Schema (the subset it was read from).</summary>
    public JsonObject ToJson() => Kind switch
    {
        SchemaKind.Object => new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject(Properties.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value.ToJson()))),
        },
        SchemaKind.Map => new JsonObject { ["type"] = "object", ["additionalProperties"] = Items!.ToJson() },
        SchemaKind.Array => new JsonObject { ["type"] = "array", ["items"] = Items!.ToJson() },
        SchemaKind.DateTime => new JsonObject { ["type"] = "string", ["format"] = "date-time" },
        SchemaKind.Any => new JsonObject(),
        _ => new JsonObject { ["type"] = Kind.ToString().ToLowerInvariant() },
    };

    private static string Describe(SchemaKind kind) => kind switch
    {
        SchemaKind.DateTime => "an RFC 3339 date-time string",
        SchemaKind.Integer => "an integer",
        SchemaKind.Number => "a number",
        SchemaKind.Boolean => "true or false",
        _ => "a string",
    };
}
