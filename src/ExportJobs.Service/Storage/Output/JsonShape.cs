using System.Text.Json;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Output;

/// <summary>
/// The Parquet shape of a set of JSON records, inferred from the values seen: objects become structs (members in
/// name order), arrays become lists, integers <c>long</c>, other numbers <c>double</c>, booleans <c>bool</c>, strings
/// <c>string</c>. A path whose values disagree in kind is written as its JSON text, so no value is lost.
/// </summary>
internal sealed class JsonShape
{
    [Flags]
    private enum Kind { None = 0, String = 1, Integer = 2, Float = 4, Boolean = 8, Object = 16, Array = 32, DateTime = 64 }

    private Kind _kinds;
    private readonly SortedDictionary<string, JsonShape> _members = new(StringComparer.Ordinal);
    private JsonShape? _element;

    /// <summary>Widens the shape to what <paramref name="record"/> holds.</summary>
    public void Add(MergedValue record) => Observe(record);

    /// <summary>
    /// The shape a schema fixes, whatever the values: so every part of a batch has the same Parquet schema. Maps and
    /// <c>{}</c> (any) are written as JSON text; date-times as timestamps.
    /// </summary>
    public static JsonShape FromSchema(SchemaNode schema)
    {
        var shape = new JsonShape();
        switch (schema.Kind)
        {
            case SchemaKind.Object:
                shape._kinds = Kind.Object;
                foreach (var (name, property) in schema.Properties) shape._members[name] = FromSchema(property);
                break;
            case SchemaKind.Array:
                shape._kinds = Kind.Array;
                shape._element = FromSchema(schema.Items!);
                break;
            case SchemaKind.String: shape._kinds = Kind.String; break;
            case SchemaKind.DateTime: shape._kinds = Kind.DateTime; break;
            case SchemaKind.Integer: shape._kinds = Kind.Integer; break;
            case SchemaKind.Number: shape._kinds = Kind.Float; break;
            case SchemaKind.Boolean: shape._kinds = Kind.Boolean; break;
            default: shape._kinds = Kind.String | Kind.Object; break;
        }
        return shape;
    }

    public ParquetSchema ToSchema() => new(_members.Select(m => m.Value.ToField(m.Key)).ToArray());

    private void Observe(MergedValue value)
    {
        switch (value.Kind)
        {
            case JsonValueKind.Object:
                _kinds |= Kind.Object;
                foreach (var (name, member) in value.EnumerateObject())
                {
                    if (!_members.TryGetValue(name, out var shape)) _members[name] = shape = new JsonShape();
                    shape.Observe(member);
                }
                return;
            case JsonValueKind.Array:
                _kinds |= Kind.Array;
                _element ??= new JsonShape();
                foreach (var item in value.Element.EnumerateArray()) _element.Observe(MergedValue.Of(item));
                return;
            case JsonValueKind.String: _kinds |= Kind.String; return;
            case JsonValueKind.True or JsonValueKind.False: _kinds |= Kind.Boolean; return;
            case JsonValueKind.Number: _kinds |= value.Element.TryGetInt64(out _) ? Kind.Integer : Kind.Float; return;
        }
    }

    private enum Representation { Struct, List, Long, Double, Boolean, DateTime, Text }

    /// <summary>How values of this path are written. Lists of lists are written as JSON text.</summary>
    private Representation As(bool inList) => _kinds switch
    {
        Kind.Object when _members.Count > 0 => Representation.Struct,
        Kind.Array when _element is not null && !inList => Representation.List,
        Kind.Integer => Representation.Long,
        Kind.Integer | Kind.Float or Kind.Float => Representation.Double,
        Kind.Boolean => Representation.Boolean,
        Kind.DateTime => Representation.DateTime,
        _ => Representation.Text,
    };

    private Field ToField(string name, bool inList = false) => As(inList) switch
    {
        Representation.Struct => new StructField(name, _members.Select(m => m.Value.ToField(m.Key)).ToArray()),
        Representation.List => new ListField(name, _element!.ToField("element", inList: true)),
        Representation.Long => new DataField(name, typeof(long), isNullable: true),
        Representation.Double => new DataField(name, typeof(double), isNullable: true),
        Representation.Boolean => new DataField(name, typeof(bool), isNullable: true),
        Representation.DateTime => new DataField(name, typeof(DateTime), isNullable: true),
        _ => new DataField(name, typeof(string), isNullable: true),
    };

    /// <summary>
    /// The columns of this shape's members, in schema order, each a path of <paramref name="schema"/>; with the
    /// <paramref name="projection"/> its rows are to be projected by (<see cref="JsonColumns(JsonShape, FieldProjection?)"/>).
    /// </summary>
    public (string Name, JsonColumns.Node Node)[] ToColumns(ParquetSchema schema, JsonColumns.TextChunks texts, FieldProjection? projection) =>
        _members.Select((m, i) => (m.Key, m.Value.ToColumn(schema.Fields[i], texts, projection?.Below(m.Key)))).ToArray();

    private JsonColumns.Node ToColumn(Field field, JsonColumns.TextChunks texts, FieldProjection? projected, bool inList = false) => As(inList) switch
    {
        Representation.Struct => new JsonColumns.Struct(field,
            _members.Select((m, i) => (m.Key, m.Value.ToColumn(((StructField)field).Fields[i], texts, projected?.Below(m.Key)))).ToArray(), projected),
        Representation.List => new JsonColumns.List((ListField)field, _element!.ToColumn(((ListField)field).Item, texts, projected: null, inList: true)),
        Representation.Long => new JsonColumns.Leaf<long>((DataField)field, JsonColumns.ToLong),
        Representation.Double => new JsonColumns.Leaf<double>((DataField)field, JsonColumns.ToDouble),
        Representation.Boolean => new JsonColumns.Leaf<bool>((DataField)field, JsonColumns.ToBoolean),
        Representation.DateTime => new JsonColumns.Leaf<DateTime>((DataField)field, JsonColumns.ToDateTime),
        _ => new JsonColumns.Leaf<ReadOnlyMemory<char>>((DataField)field, value => JsonColumns.ToText(value, texts)),
    };
}
