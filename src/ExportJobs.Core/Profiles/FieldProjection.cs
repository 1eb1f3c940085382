using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// The <c>fields</c> of a job: comma-separated dotted XDM paths (<c>identities.id,personalEmail.address</c>).
/// Applied to a profile it keeps those paths and their nesting; a path through an array of objects keeps that
/// member of each element (<c>identities.id</c>). Blank means every field.
/// </summary>
public sealed class FieldProjection
{
    private readonly Dictionary<string, FieldProjection> _children = new(StringComparer.Ordinal);
    private bool _whole;

    public static readonly FieldProjection All = new() { _whole = true };

    public bool IsAll => _whole;

    /// <summary>The top-level members the fields go through (none when <see cref="IsAll"/>).</summary>
    public IEnumerable<string> TopLevelNames => _children.Keys;

    /// <summary>The top-level paths, as given, in order (for documentation and manifests).</summary>
    public IReadOnlyList<string> Paths { get; private set; } = [];

    public static bool TryParse(string? fields, out FieldProjection projection, out string? error)
    {
        projection = All;
        error = null;
        if (string.IsNullOrWhiteSpace(fields)) return true;

        var root = new FieldProjection();
        var paths = new List<string>();
        foreach (string raw in fields.Split(','))
        {
            string path = raw.Trim();
            if (path.Length == 0)
            {
                error = "fields has an empty path (two commas in a row, or a trailing comma).";
                return false;
            }
            var node = root;
            foreach (string segment in path.Split('.'))
            {
                if (!Schemas.XdmName.IsPathSegment(segment))
                {
                    error = $"fields path '{ShownText.Cut(path, 64)}' is not a dotted path of XDM names ({Schemas.XdmName.PathRule} each).";
                    return false;
                }
                if (!node._children.TryGetValue(segment, out var child)) node._children[segment] = child = new FieldProjection();
                node = child;
            }
            node._whole = true;
            paths.Add(path);
        }
        root.Paths = paths;
        projection = root;
        return true;
    }

    public static FieldProjection Parse(string? fields) =>
        TryParse(fields, out var projection, out string? error) ? projection : throw new FormatException(error);

    /// <summary>
    /// What <paramref name="source"/> keeps of the fields, an absent path left out: a new object, or with no fields
    /// <paramref name="source"/> itself (not a copy — the caller hands over the source).
    /// </summary>
    public JsonObject Apply(JsonObject source)
    {
        if (_whole) return source;
        var result = new JsonObject();
        foreach (var (name, child) in _children)
        {
            if (!source.TryGetPropertyValue(name, out var value) || value is null) continue;
            var projected = child.ApplyTo(value);
            if (projected is not null) result[name] = projected;
        }
        return result;
    }

    /// <summary>
    /// What the merged object <paramref name="source"/> keeps of the fields, as <see cref="Apply(JsonObject)"/> keeps of
    /// it built as nodes, but reading only the paths the fields name: a new object (with no fields, the whole value).
    /// </summary>
    public JsonObject Apply(MergedValue source)
    {
        if (_whole) return source.ToNode().AsObject();
        var result = new JsonObject();
        foreach (var (name, child) in _children)
        {
            if (!source.TryGetProperty(name, out var value)) continue;
            var projected = child.ApplyTo(value);
            if (projected is not null) result[name] = projected;
        }
        return result;
    }

    private JsonNode? ApplyTo(MergedValue value)
    {
        if (_whole) return value.ToNode();
        return value.Kind switch
        {
            JsonValueKind.Object => Apply(value) is { Count: > 0 } projected ? projected : null,
            // An array is one layer's value as stored: projected as its nodes are.
            JsonValueKind.Array => ApplyTo(JsonArray.Create(value.Element.Clone())!),
            _ => null,
        };
    }

    /// <summary>
    /// Whether the columns of <see cref="Project">this projection of</see> <paramref name="schema"/> make the projection
    /// themselves, so that rows may go into them as they are instead of as <see cref="Apply(MergedValue)"/>'s copies:
    /// when every path goes through objects of the schema down to a value it keeps whole (an object of a path then holds
    /// something exactly where <see cref="Keeps"/> says so). A path into an array, a map or a value of any type keeps
    /// part of what one column holds whole.
    /// </summary>
    public bool ShreddedBy(Schemas.SchemaNode schema) =>
        _whole || (schema.Kind == Schemas.SchemaKind.Object
            && _children.All(c => schema.Properties.TryGetValue(c.Key, out var property) && c.Value.ShreddedBy(property)));

    /// <summary>
    /// Whether what the fields keep can depend on the value at <paramref name="path"/> (names from here down): it lies
    /// on a path of the fields, below one or above one (a value there that is not an object replaces the objects below
    /// it in a merge, so the path's end is read even where the field goes deeper).
    /// </summary>
    public bool Touches(IReadOnlyList<string> path)
    {
        var node = this;
        foreach (string name in path)
        {
            if (node._whole) return true;
            if (!node._children.TryGetValue(name, out var child)) return false;
            node = child;
        }
        return true;
    }

    /// <summary>What the fields keep below the member <paramref name="name"/>, or null when they keep none of it or all of it.</summary>
    public FieldProjection? Below(string name) => !_whole && _children.TryGetValue(name, out var child) && !child._whole ? child : null;

    /// <summary>
    /// Whether <see cref="Apply(MergedValue)"/> keeps anything of <paramref name="value"/> (a present value), without
    /// building it. Asked of every exported row's objects: loops, not queries, so that it allocates nothing.
    /// </summary>
    public bool Keeps(MergedValue value)
    {
        if (_whole) return true;
        if (value.Kind == JsonValueKind.Object)
        {
            foreach (var (name, child) in _children)
                if (value.TryGetProperty(name, out var member) && child.Keeps(member)) return true;
        }
        else if (value.Kind == JsonValueKind.Array)
        {
            foreach (var item in value.Element.EnumerateArray())
                if (item.ValueKind == JsonValueKind.Object && Keeps(MergedValue.Of(item))) return true;
        }
        return false;
    }

    /// <summary>The schema of what <see cref="Apply(JsonObject)"/> keeps of records of <paramref name="schema"/>.</summary>
    public Schemas.SchemaNode Project(Schemas.SchemaNode schema)
    {
        if (_whole) return schema;
        return schema.Kind switch
        {
            Schemas.SchemaKind.Object => Schemas.SchemaNode.Of(Schemas.SchemaKind.Object, properties: _children
                .Where(c => schema.Properties.ContainsKey(c.Key))
                .ToDictionary(c => c.Key, c => c.Value.Project(schema.Properties[c.Key]), StringComparer.Ordinal)),
            Schemas.SchemaKind.Array => Schemas.SchemaNode.Of(Schemas.SchemaKind.Array, Project(schema.Items!)),
            _ => schema,
        };
    }

    /// <summary>The first path that <paramref name="schema"/> cannot hold, or null.</summary>
    public string? FirstPathOutside(Schemas.SchemaNode schema) =>
        Paths.FirstOrDefault(path => !schema.HasPath(path.Split('.')));

    private JsonNode? ApplyTo(JsonNode value)
    {
        if (_whole) return value.DeepClone();
        switch (value)
        {
            case JsonObject obj:
                var projected = Apply(obj);
                return projected.Count == 0 ? null : projected;
            case JsonArray array:
                var items = new JsonArray();
                foreach (var item in array)
                    if (item is JsonObject element && Apply(element) is { Count: > 0 } kept) items.Add(kept);
                return items.Count == 0 ? null : items;
            default:
                return null;
        }
    }
}
