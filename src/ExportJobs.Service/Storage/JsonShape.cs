using System.Text.Json;
using System.Text.Json.Nodes;
using Parquet.Schema;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The Parquet shape of a set of JSON records, inferred from the values seen: objects become structs (members in
/// name order), arrays become lists, integers <c>long</c>, other numbers <c>double</c>, booleans <c>bool</c>, strings
/// <c>string</c>. A path whose values disagree in kind is written as its JSON text, so no value is lost.
/// </summary>
internal sealed class JsonShape
{
    [Flags]
    private enum Kind { None = 0, String = 1, Integer = 2, Float = 4, Boolean = 8, Object = 16, Array = 32 }

    private Kind _kinds;
    private readonly SortedDictionary<string, JsonShape> _members = new(StringComparer.Ordinal);
    private JsonShape? _element;

    public static JsonShape Of(IEnumerable<JsonObject> records)
    {
        var shape = new JsonShape();
        foreach (var record in records) shape.Observe(record);
        return shape;
    }

    public ParquetSchema ToSchema() => new(_members.Select(m => m.Value.ToField(m.Key)).ToArray());

    public Dictionary<string, object?> ToRow(JsonObject record)
    {
        var row = new Dictionary<string, object?>(_members.Count, StringComparer.Ordinal);
        foreach (var (name, member) in _members) row[name] = member.Convert(record[name]);
        return row;
    }

    private void Observe(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return;
            case JsonObject obj:
                _kinds |= Kind.Object;
                foreach (var (name, value) in obj)
                {
                    if (!_members.TryGetValue(name, out var member)) _members[name] = member = new JsonShape();
                    member.Observe(value);
                }
                return;
            case JsonArray array:
                _kinds |= Kind.Array;
                _element ??= new JsonShape();
                foreach (var item in array) _element.Observe(item);
                return;
            case JsonValue value:
                _kinds |= value.GetValueKind() switch
                {
                    JsonValueKind.String => Kind.String,
                    JsonValueKind.True or JsonValueKind.False => Kind.Boolean,
                    JsonValueKind.Number => value.TryGetValue(out long _) || IsIntegral(value) ? Kind.Integer : Kind.Float,
                    _ => Kind.None,
                };
                return;
        }
    }

    private static bool IsIntegral(JsonValue value)
    {
        string text = value.ToJsonString();
        return !text.Contains('.') && !text.Contains('e') && !text.Contains('E') && long.TryParse(text, out _);
    }

    private bool IsStruct => _kinds == Kind.Object && _members.Count > 0;
    private bool IsList => _kinds == Kind.Array && _element is not null;
    private Type ScalarType => _kinds switch
    {
        Kind.Integer => typeof(long),
        Kind.Integer | Kind.Float or Kind.Float => typeof(double),
        Kind.Boolean => typeof(bool),
        _ => typeof(string),
    };

    private Field ToField(string name)
    {
        if (IsStruct) return new StructField(name, _members.Select(m => m.Value.ToField(m.Key)).ToArray());
        if (IsList) return new ListField(name, _element!.ToField("element"));
        return new DataField(name, ScalarType, isNullable: true);
    }

    private object? Convert(JsonNode? node)
    {
        if (node is null) return null;
        if (IsStruct)
        {
            if (node is not JsonObject obj) return null;
            var values = new Dictionary<string, object?>(_members.Count, StringComparer.Ordinal);
            foreach (var (name, member) in _members) values[name] = member.Convert(obj[name]);
            return values;
        }
        if (IsList) return node is JsonArray array ? array.Select(item => _element!.Convert(item)).ToList() : null;

        var type = ScalarType;
        if (type == typeof(string))
            return node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : node.ToJsonString();
        var scalar = (JsonValue)node;
        if (type == typeof(long)) return scalar.GetValue<long>();
        if (type == typeof(double)) return scalar.GetValue<double>();
        return scalar.GetValueKind() == JsonValueKind.True;
    }
}
