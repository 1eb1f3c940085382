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

    /// <summary>
    /// The property of an object schema named by the member name a reader is on, and its place among the required
    /// properties (-1 when it is not required); null when the schema has no such property. The name's UTF-8 text is
    /// compared as it is in the line, not made into a string, unless escaped: every ingested line is checked.
    /// </summary>
    internal SchemaNode? PropertyOf(ref Utf8JsonReader reader, out int required)
    {
        var lookup = _lookup ??= new PropertyLookup(this);
        int found = -1;
        if (reader.ValueIsEscaped || reader.ValueSpan.Length > MaxUnescapedName)
            found = lookup.ByName.GetValueOrDefault(reader.GetString()!, -1);
        else if (lookup.Utf8.Length <= MaxScannedProperties)
        {
            var raw = reader.ValueSpan;
            for (int i = 0; i < lookup.Utf8.Length && found < 0; i++)
                if (raw.SequenceEqual(lookup.Utf8[i])) found = i;
        }
        else
        {
            Span<char> name = stackalloc char[MaxUnescapedName];
            int length = Encoding.UTF8.GetChars(reader.ValueSpan, name);
            found = lookup.ByName.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(name[..length], out int at) ? at : -1;
        }
        required = found < 0 ? -1 : lookup.Required[found];
        return found < 0 ? null : lookup.Nodes[found];
    }

    /// <summary>The required properties, in the order a missing one is reported; <see cref="PropertyOf"/> gives each one's place here.</summary>
    internal IReadOnlyList<string> RequiredInOrder => (_lookup ??= new PropertyLookup(this)).RequiredNames;

    private const int MaxUnescapedName = 256;

    /// <summary>
    /// Up to this many properties, a member's name is found by comparing its bytes with each property's UTF-8 name,
    /// faster than decoding it to look it up; with more, it is looked up.
    /// </summary>
    private const int MaxScannedProperties = 16;

    /// <summary>The properties by their names' UTF-8 bytes and by their names, made on first use (checks that race to make it make the same).</summary>
    private PropertyLookup? _lookup;

    private sealed class PropertyLookup
    {
        public PropertyLookup(SchemaNode node)
        {
            RequiredNames = [.. node.Required];
            var names = node._properties.Keys.ToArray();
            Utf8 = [.. names.Select(Encoding.UTF8.GetBytes)];
            Nodes = [.. names.Select(n => node._properties[n])];
            Required = [.. names.Select(n => Array.IndexOf(RequiredNames, n))];
            ByName = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i, StringComparer.Ordinal);
        }

        public string[] RequiredNames { get; }
        public byte[][] Utf8 { get; }
        public SchemaNode[] Nodes { get; }
        public int[] Required { get; }
        public Dictionary<string, int> ByName { get; }
    }

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

    internal static string Describe(SchemaKind kind) => kind switch
    {
        SchemaKind.DateTime => "an RFC 3339 date-time string",
        SchemaKind.Integer => "an integer",
        SchemaKind.Number => "a number",
        SchemaKind.Boolean => "true or false",
        _ => "a string",
    };
}
