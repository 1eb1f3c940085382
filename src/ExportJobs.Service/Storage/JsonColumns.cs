using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage;

/// <summary>
/// JSON records of one <see cref="JsonShape"/> shredded into Parquet columns as they are added, written as one row
/// group. Each leaf path is a column of its present values, with a definition level (how deep the path is present) and,
/// under a list, a repetition level (which list a value continues) per slot: the Dremel encoding Parquet stores, written
/// with Parquet.Net's column writer. Nothing of the records is kept but their columns (arrays from the shared pool,
/// returned by <see cref="Clear"/>).
/// </summary>
internal sealed class JsonColumns
{
    private readonly ParquetSchema _schema;
    private readonly Struct _root;
    private readonly Dictionary<DataField, ILeaf> _leaves = [];

    public JsonColumns(JsonShape shape)
    {
        _schema = shape.ToSchema();
        _root = new Struct(0, shape.ToColumns(_schema));
        _root.CollectLeaves(_leaves);
    }

    public int Rows { get; private set; }

    public void Add(JsonObject record)
    {
        _root.Add(record, 0, 0);
        Rows++;
    }

    public void Clear()
    {
        foreach (var leaf in _leaves.Values) leaf.Clear();
        Rows = 0;
    }

    public async Task WriteAsync(Stream stream, CancellationToken ct)
    {
        await using var writer = await ParquetWriter.CreateAsync(_schema, stream, cancellationToken: ct);
        using var group = writer.CreateRowGroup();
        foreach (var field in _schema.GetDataFields()) await _leaves[field].WriteAsync(group, ct);
        group.CompleteValidate();
    }

    /// <summary>A path of the shape: adds one value (or its absence) to every column below it.</summary>
    public abstract class Node
    {
        /// <param name="value">The value at this path; null when it is missing or JSON null.</param>
        /// <param name="repetition">The repetition level of the slot.</param>
        /// <param name="definition">The definition level of the deepest present ancestor.</param>
        public abstract void Add(JsonNode? value, int repetition, int definition);

        public abstract void AddAbsent(int repetition, int definition);

        public abstract void CollectLeaves(Dictionary<DataField, ILeaf> leaves);
    }

    public sealed class Struct(int presentDefinition, IReadOnlyList<(string Name, Node Node)> members) : Node
    {
        public Struct(Field field, IReadOnlyList<(string Name, Node Node)> members) : this(field.MaxDefinitionLevel, members) { }

        public override void Add(JsonNode? value, int repetition, int definition)
        {
            if (value is not JsonObject record)
            {
                AddAbsent(repetition, definition);
                return;
            }
            foreach (var (name, node) in members)
                node.Add(record.TryGetPropertyValue(name, out var member) ? member : null, repetition, presentDefinition);
        }

        public override void AddAbsent(int repetition, int definition)
        {
            foreach (var (_, node) in members) node.AddAbsent(repetition, definition);
        }

        public override void CollectLeaves(Dictionary<DataField, ILeaf> leaves)
        {
            foreach (var (_, node) in members) node.CollectLeaves(leaves);
        }
    }

    /// <summary>A list: its field's definition level is reached by a non-empty list, one less by an empty one.</summary>
    public sealed class List(ListField field, Node element) : Node
    {
        public override void Add(JsonNode? value, int repetition, int definition)
        {
            if (value is not JsonArray items)
                AddAbsent(repetition, definition);
            else if (items.Count == 0)
                element.AddAbsent(repetition, field.MaxDefinitionLevel - 1);
            else
                for (int i = 0; i < items.Count; i++)
                    element.Add(items[i], i == 0 ? repetition : field.MaxRepetitionLevel, field.MaxDefinitionLevel);
        }

        public override void AddAbsent(int repetition, int definition) => element.AddAbsent(repetition, definition);

        public override void CollectLeaves(Dictionary<DataField, ILeaf> leaves) => element.CollectLeaves(leaves);
    }

    public interface ILeaf
    {
        Task WriteAsync(ParquetRowGroupWriter group, CancellationToken ct);
        void Clear();
    }

    /// <summary>One column: the values <paramref name="convert"/> finds (null: not of the column's type), with their levels.</summary>
    public sealed class Leaf<T>(DataField field, Func<JsonNode, T?> convert) : Node, ILeaf where T : struct
    {
        private readonly Buffer<T> _values = new();
        private readonly Buffer<int> _definitions = new();
        private readonly Buffer<int>? _repetitions = field.MaxRepetitionLevel > 0 ? new() : null;

        public override void Add(JsonNode? value, int repetition, int definition)
        {
            if (value is not null && convert(value) is { } converted)
            {
                _values.Add(converted);
                _definitions.Add(field.MaxDefinitionLevel);
                _repetitions?.Add(repetition);
            }
            else
                AddAbsent(repetition, definition);
        }

        public override void AddAbsent(int repetition, int definition)
        {
            _definitions.Add(definition);
            _repetitions?.Add(repetition);
        }

        public override void CollectLeaves(Dictionary<DataField, ILeaf> leaves) => leaves.Add(field, this);

        public Task WriteAsync(ParquetRowGroupWriter group, CancellationToken ct) =>
            group.WriteAllPartsAsync(field, _values.Memory, _definitions.Memory, _repetitions?.Memory, ct);

        public void Clear()
        {
            _values.Clear();
            _definitions.Clear();
            _repetitions?.Clear();
        }
    }

    /// <summary>A growable array from the shared pool (a part's columns are large arrays: pooled, they are not garbage).</summary>
    private sealed class Buffer<T>
    {
        private T[] _items = ArrayPool<T>.Shared.Rent(256);
        private int _count;

        public ReadOnlyMemory<T> Memory => _items.AsMemory(0, _count);

        public void Add(T item)
        {
            if (_count == _items.Length)
            {
                var larger = ArrayPool<T>.Shared.Rent(_items.Length * 2);
                _items.AsSpan(0, _count).CopyTo(larger);
                Return(_items);
                _items = larger;
            }
            _items[_count++] = item;
        }

        public void Clear()
        {
            Return(_items);
            _items = ArrayPool<T>.Shared.Rent(256);
            _count = 0;
        }

        // Text values hold their strings: cleared, they can be collected.
        private static void Return(T[] items) => ArrayPool<T>.Shared.Return(items, clearArray: RuntimeHelpers.IsReferenceOrContainsReferences<T>());
    }

    // Directly when the value holds the type; else from the number's JSON text (a value built in memory, an int say).
    public static long? ToLong(JsonNode node) =>
        node is JsonValue value && value.TryGetValue(out long integer) ? integer
        : long.TryParse(node.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long parsed) ? parsed : null;

    public static double? ToDouble(JsonNode node) =>
        node is JsonValue value && value.TryGetValue(out double number) ? number
        : double.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double parsed) ? parsed : null;

    public static bool? ToBoolean(JsonNode node) => node.GetValueKind() switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    public static DateTime? ToDateTime(JsonNode node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String && Rfc3339.TryParse(value.GetValue<string>(), out var at)
            ? at.UtcDateTime : null;

    /// <summary>A string as itself; any other value (of a path whose values disagree in kind) as its JSON text.</summary>
    public static ReadOnlyMemory<char>? ToText(JsonNode node) =>
        (node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : node.ToJsonString()).AsMemory();
}
