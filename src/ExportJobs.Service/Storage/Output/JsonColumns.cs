using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Output;

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
    /// <summary>The columns in the schema's order, the order a row group's are written in (an array: <see cref="Bytes"/> is counted once a row).</summary>
    private readonly ILeaf[] _leaves;
    private readonly TextChunks _texts = new();

    /// <param name="projection">
    /// The fields the rows are to be projected by, when they are added unprojected (<see cref="FieldProjection.ShreddedBy"/>;
    /// the shape is the projection's): an object of a path is written only where the projection keeps something of it.
    /// </param>
    public JsonColumns(JsonShape shape, FieldProjection? projection = null)
    {
        _schema = shape.ToSchema();
        _root = new Struct(0, shape.ToColumns(_schema, _texts, projection));
        var leaves = new Dictionary<DataField, ILeaf>();
        _root.CollectLeaves(leaves);
        _leaves = [.. _schema.GetDataFields().Select(field => leaves[field])];
    }

    public int Rows { get; private set; }

    /// <summary>The bytes of the columns' values and levels and of their characters.</summary>
    public long Bytes
    {
        get
        {
            long bytes = _texts.Bytes;
            foreach (var leaf in _leaves) bytes += leaf.Bytes;
            return bytes;
        }
    }

    public void Add(MergedValue record)
    {
        _root.Add(record, 0, 0);
        Rows++;
    }

    public void Clear()
    {
        foreach (var leaf in _leaves) leaf.Clear();
        _texts.Clear();
        Rows = 0;
    }

    public async Task WriteAsync(Stream stream, CancellationToken ct)
    {
        await using var writer = await ParquetWriter.CreateAsync(_schema, stream, ParquetSettings.Options, cancellationToken: ct);
        using var group = writer.CreateRowGroup();
        foreach (var leaf in _leaves) await leaf.WriteAsync(group, ct);
        group.CompleteValidate();
    }

    /// <summary>A path of the shape: adds one value (or its absence) to every column below it.</summary>
    public abstract class Node
    {
        /// <param name="value">The value at this path (not null: a missing or null value is absent).</param>
        /// <param name="repetition">The repetition level of the slot.</param>
        /// <param name="definition">The definition level of the deepest present ancestor.</param>
        public abstract void Add(MergedValue value, int repetition, int definition);

        public abstract void AddAbsent(int repetition, int definition);

        public abstract void CollectLeaves(Dictionary<DataField, ILeaf> leaves);
    }

    /// <summary>An object; with <paramref name="projected"/>, of a row added unprojected: present only where the projection keeps some of it.</summary>
    public sealed class Struct(int presentDefinition, (string Name, Node Node)[] members, FieldProjection? projected = null) : Node
    {
        public Struct(Field field, (string Name, Node Node)[] members, FieldProjection? projected) : this(field.MaxDefinitionLevel, members, projected) { }

        private readonly MemberLookup _lookup = new([.. members.Select(m => m.Name)]);

        public override void Add(MergedValue value, int repetition, int definition)
        {
            if (value.Kind != JsonValueKind.Object || projected?.Keeps(value) == false)
            {
                AddAbsent(repetition, definition);
                return;
            }
            _lookup.Find(value);
            for (int i = 0; i < members.Length; i++)
                if (_lookup.TryGet(i, out var member)) members[i].Node.Add(member, repetition, presentDefinition);
                else members[i].Node.AddAbsent(repetition, presentDefinition);
            _lookup.Clear();
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
        public override void Add(MergedValue value, int repetition, int definition)
        {
            if (value.Kind != JsonValueKind.Array)
                AddAbsent(repetition, definition);
            else if (value.Element.GetArrayLength() == 0)
                element.AddAbsent(repetition, field.MaxDefinitionLevel - 1);
            else
            {
                int i = 0;
                foreach (var item in value.Element.EnumerateArray())
                {
                    int itemRepetition = i++ == 0 ? repetition : field.MaxRepetitionLevel;
                    if (item.ValueKind == JsonValueKind.Null) element.AddAbsent(itemRepetition, field.MaxDefinitionLevel);
                    else element.Add(MergedValue.Of(item), itemRepetition, field.MaxDefinitionLevel);
                }
            }
        }

        public override void AddAbsent(int repetition, int definition) => element.AddAbsent(repetition, definition);

        public override void CollectLeaves(Dictionary<DataField, ILeaf> leaves) => element.CollectLeaves(leaves);
    }

    public interface ILeaf
    {
        long Bytes { get; }
        Task WriteAsync(ParquetRowGroupWriter group, CancellationToken ct);
        void Clear();
    }

    /// <summary>One column: the values <paramref name="convert"/> finds (null: not of the column's type), with their levels.</summary>
    public sealed class Leaf<T>(DataField field, Func<MergedValue, T?> convert) : Node, ILeaf where T : struct
    {
        private readonly Buffer<T> _values = new();
        private readonly Buffer<int> _definitions = new();
        private readonly Buffer<int>? _repetitions = field.MaxRepetitionLevel > 0 ? new() : null;

        public override void Add(MergedValue value, int repetition, int definition)
        {
            if (convert(value) is { } converted)
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

        public long Bytes => (long)_values.Count * Unsafe.SizeOf<T>() + (long)(_definitions.Count + (_repetitions?.Count ?? 0)) * sizeof(int);

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

        public int Count => _count;

        public void Add(T item)
        {
            if (_count == _items.Length) _items = PooledArrays.Grown(ArrayPool<T>.Shared, _items, _count, _items.Length * 2);
            _items[_count++] = item;
        }

        public void Clear()
        {
            PooledArrays.Return(ArrayPool<T>.Shared, _items, _count);
            _items = ArrayPool<T>.Shared.Rent(256);
            _count = 0;
        }
    }

    public static long? ToLong(MergedValue value) =>
        value.Kind == JsonValueKind.Number && value.Element.TryGetInt64(out long integer) ? integer : null;

    public static double? ToDouble(MergedValue value) =>
        value.Kind == JsonValueKind.Number && value.Element.TryGetDouble(out double number) ? number : null;

    public static bool? ToBoolean(MergedValue value) => value.Kind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    public static DateTime? ToDateTime(MergedValue value) =>
        value.Kind == JsonValueKind.String && Rfc3339.TryParse(value.Element, out var at) ? at.UtcDateTime : null;

    /// <summary>
    /// A string as itself; any other value (of a path whose values disagree in kind, or a map) as its JSON text. The
    /// characters go to the part's <see cref="TextChunks"/>, not to a string each.
    /// </summary>
    public static ReadOnlyMemory<char>? ToText(MergedValue value, TextChunks texts) =>
        value.Kind == JsonValueKind.String ? texts.AddString(value.Element) : texts.AddJson(value);

    /// <summary>The characters of a part's text values, in large pooled chunks returned by <see cref="Clear"/>.</summary>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Its writer is over a memory buffer: nothing to release.")]
    public sealed class TextChunks
    {
        /// <summary>
        /// Characters of a chunk: 128 KB, in the large object heap. Chunks of 64 KB kept out of it were made anew all the
        /// same (a part holds more than the shared pool keeps) and, living as long as their part, were promoted: twice the
        /// collections of generations 1 and 2 in the whole-store floor (docs/performance.md).
        /// </summary>
        private const int ChunkChars = 64 * 1024;
        private readonly List<char[]> _chunks = [];
        private char[] _current = [];
        private int _used;
        private long _chars;
        private readonly ArrayBufferWriter<byte> _json = new();
        private readonly Utf8JsonWriter _writer;

        public TextChunks() => _writer = new Utf8JsonWriter(_json);

        public long Bytes => _chars * sizeof(char);

        public ReadOnlyMemory<char> AddString(JsonElement value)
        {
            var raw = JsonMarshal.GetRawUtf8Value(value);
            if (raw.Length >= 2 && raw[0] == (byte)'"') raw = raw[1..^1];
            // Escaped text is unescaped by the document; plain text is decoded here, straight into the chunk.
            return raw.Contains((byte)'\\') ? Add(value.GetString()!) : Add(raw);
        }

        public ReadOnlyMemory<char> AddJson(MergedValue value)
        {
            if (value.TryGetWrittenText(out var text)) return Add(text);
            _json.ResetWrittenCount();
            _writer.Reset(_json);
            value.WriteTo(_writer);
            _writer.Flush();
            return Add(_json.WrittenSpan);
        }

        private ReadOnlyMemory<char> Add(ReadOnlySpan<byte> utf8)
        {
            var chars = Reserve(Encoding.UTF8.GetMaxCharCount(utf8.Length));
            int count = Encoding.UTF8.GetChars(utf8, chars.Span);
            _used += count;
            _chars += count;
            return chars[..count];
        }

        private ReadOnlyMemory<char> Add(string text)
        {
            var chars = Reserve(text.Length);
            text.CopyTo(chars.Span);
            _used += text.Length;
            _chars += text.Length;
            return chars[..text.Length];
        }

        private Memory<char> Reserve(int count)
        {
            if (_current.Length - _used < count)
            {
                _current = ArrayPool<char>.Shared.Rent(Math.Max(ChunkChars, count));
                _chunks.Add(_current);
                _used = 0;
            }
            return _current.AsMemory(_used, count);
        }

        public void Clear()
        {
            foreach (var chunk in _chunks) ArrayPool<char>.Shared.Return(chunk);
            _chunks.Clear();
            _current = [];
            _used = 0;
            _chars = 0;
        }
    }
}
