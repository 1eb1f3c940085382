using System.Globalization;
using System.Text;
using System.Text.Json;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>The type of a typed leaf's column.</summary>
internal enum LeafKind { String, Integer, Double, Boolean }

/// <summary>One typed leaf of a member: its path below the member, and the type of its column.</summary>
internal sealed record LeafPath(string[] Path, LeafKind Kind);

/// <summary>
/// The typed leaves of one member of a fragment file (docs/storage.md, "Typed leaves"): the objects its values are, as
/// a tree of names down to leaves of one type each, inferred from the values of the file's first row group as
/// DuckDB's <c>read_ndjson</c> infers a struct from a sample. A value that fits is kept in the leaves' columns, one per
/// leaf; one that does not keeps its JSON text in the member's column, so nothing is lost or coerced. A value fits
/// when it is an object whose members, at every level, are leaves of the shape in the shape's order (each at most
/// once) or objects of it with a leaf present, and each leaf holds its column's type: a string without escapes, an
/// integer or a number written as the column's type writes it back, <c>true</c> or <c>false</c>. So a fitting value
/// is written back from its leaves as the same JSON, but for whitespace between tokens, which a fragment does not keep.
/// </summary>
internal sealed class LeafShape
{
    /// <summary>The most names (objects and leaves) a member's shape has: beyond them, as DuckDB makes an object with too many keys a map, values keep their text.</summary>
    public const int MaxNodes = 64;

    /// <summary>The deepest a leaf lies below its member.</summary>
    public const int MaxDepth = 8;

    private readonly Node _root;

    private LeafShape(Node root, List<LeafPath> leaves, int fixedBound) => (_root, Leaves, _fixedBound) = (root, leaves, fixedBound);

    /// <summary>The leaves, depth first in the shape's order: leaf <c>i</c> is column <c>i</c> of the member's leaves.</summary>
    public IReadOnlyList<LeafPath> Leaves { get; }

    /// <summary>The bytes a value written back takes at most, but for its strings' text: every name, brace and comma, each number at its longest.</summary>
    private readonly int _fixedBound;

    private sealed class Node(string name, LeafKind? kind, int leaf, Node[] children)
    {
        public string Name { get; } = name;
        public byte[] NameUtf8 { get; } = Encoding.UTF8.GetBytes(name);
        /// <summary>The name as JSON text, followed by a colon: as a value that fits has it, without escapes.</summary>
        public byte[] NameJson { get; } = [(byte)'"', .. Encoding.UTF8.GetBytes(name), (byte)'"', (byte)':'];
        /// <summary>The leaf's type; null for an object.</summary>
        public LeafKind? Kind { get; } = kind;
        public int Leaf { get; } = leaf;
        public Node[] Children { get; } = children;
    }

    /// <summary>The shape of these leaves (as <see cref="Leaves"/> lists them), as a file's metadata names them.</summary>
    public static LeafShape Of(IReadOnlyList<LeafPath> leaves)
    {
        var root = new Draft();
        foreach (var leaf in leaves)
        {
            if (leaf.Path.Length is 0 or > MaxDepth) throw new InvalidDataException("A fragment file names a typed leaf without a path, or too deep a one.");
            var node = root;
            for (int i = 0; i < leaf.Path.Length - 1; i++) node = node.Child(leaf.Path[i])?.Node ?? throw new InvalidDataException("A fragment file names too many typed leaves.");
            var end = node.Child(leaf.Path[^1])?.Node;
            if (end is null || end.Kind is not null || end.IsObject) throw new InvalidDataException("A fragment file names a typed leaf twice, or below another.");
            end.Kind = leaf.Kind;
        }
        var shape = Build(root);
        if (shape is null || shape.Leaves.Count != leaves.Count || shape.Leaves.Zip(leaves).Any(l => l.First.Kind != l.Second.Kind || !l.First.Path.SequenceEqual(l.Second.Path)))
            throw new InvalidDataException("A fragment file names its typed leaves out of their order.");
        return shape;
    }

    /// <summary>
    /// The shape the objects among <paramref name="values"/> (JSON texts) agree on: a name that holds values of two types
    /// (an integer and a number make a number) or an object and a value is left out, and so is an object with no leaf
    /// left; null when no leaf is left, or (with no leaf declared) no value fits with a leaf. <paramref name="declared"/>:
    /// leaves the member has whatever the values hold (its dataset's schema says so, or the files a compaction merges
    /// have them), taken in after the values as if a value had each, so that a name the values lack goes last.
    /// </summary>
    public static LeafShape? Infer(IEnumerable<ReadOnlyMemory<byte>> values, IReadOnlyList<LeafPath>? declared = null)
    {
        var root = new Draft();
        var sample = values.Where(value => IsObject(value.Span)).ToList();
        foreach (var value in sample)
        {
            var reader = new Utf8JsonReader(value.Span);
            reader.Read();
            try
            {
                root.Observe(ref reader, 0);
            }
            catch (JsonException)
            {
                // Text no JSON reader accepts (a store's files are written from any rows) fits no shape; the names read before stay.
            }
        }
        foreach (var leaf in declared ?? []) root.Declare(leaf);
        var shape = Build(root);
        if (shape is null || declared is { Count: > 0 }) return shape;
        var fits = new LeafColumns(shape, 1);
        foreach (var value in sample)
            if (shape.TryShred(value, fits, 0, out bool any) && any) return shape;
        return null;
    }

    /// <summary>
    /// The leaves a record schema declares for each of its members that is an object (<see cref="Infer"/>): every
    /// property below it that is a string (a date-time too), an integer, a number or a boolean, through objects. An
    /// array, a map or a value of any type is no leaf: a value that holds one keeps its text.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<LeafPath>> DeclaredBy(SchemaNode record)
    {
        static void Collect(SchemaNode node, string[] path, List<LeafPath> into)
        {
            foreach (var (name, property) in node.Properties)
            {
                string[] at = [.. path, name];
                LeafKind? kind = property.Kind switch
                {
                    SchemaKind.String or SchemaKind.DateTime => LeafKind.String,
                    SchemaKind.Integer => LeafKind.Integer,
                    SchemaKind.Number => LeafKind.Double,
                    SchemaKind.Boolean => LeafKind.Boolean,
                    _ => null,
                };
                if (kind is { } leaf) into.Add(new LeafPath(at, leaf));
                else if (property.Kind == SchemaKind.Object && at.Length < MaxDepth) Collect(property, at, into);
            }
        }
        var declared = new Dictionary<string, IReadOnlyList<LeafPath>>(StringComparer.Ordinal);
        foreach (var (member, node) in record.Properties)
        {
            if (node.Kind != SchemaKind.Object) continue;
            var leaves = new List<LeafPath>();
            Collect(node, [], leaves);
            declared[member] = leaves;
        }
        return declared;
    }

    /// <summary>The leaves each member has in files' shapes (<see cref="Infer"/>), for a file that merges their rows.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<LeafPath>> DeclaredBy(IEnumerable<(MemberName Member, LeafShape? Shape)> shapes) =>
        shapes.Where(s => s.Shape is not null).GroupBy(s => s.Member.Text, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<LeafPath>)g.SelectMany(s => s.Shape!.Leaves).ToList(), StringComparer.Ordinal);

    private static bool IsObject(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            return reader.Read() && reader.TokenType == JsonTokenType.StartObject;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// A shape as inference builds it up: each object's names in an order every value seen agrees with where they agree
    /// (a new name goes right after the name before it in the value that brought it, so a name some values lack does not
    /// put the values that have it out of order), each an object, a leaf of a type, or left out.
    /// </summary>
    private sealed class Draft
    {
        private readonly List<(string Name, Draft Node)> _children = [];
        private readonly int[] _nodes;

        public Draft() => _nodes = [0];
        private Draft(int[] nodes) => _nodes = nodes;

        public LeafKind? Kind;
        public bool IsObject, LeftOut;

        public IReadOnlyList<(string Name, Draft Node)> Children => _children;

        /// <summary>
        /// The child of that name and its place; a new one is put at <paramref name="at"/> (by default last), when the
        /// shape has room for it (null when it has not).
        /// </summary>
        public (Draft Node, int Place)? Child(string name, int? at = null)
        {
            int place = _children.FindIndex(c => c.Name == name);
            if (place >= 0) return (_children[place].Node, place);
            if (_nodes[0] == MaxNodes) return null;
            _nodes[0]++;
            IsObject = true;
            var child = new Draft(_nodes);
            place = at ?? _children.Count;
            _children.Insert(place, (name, child));
            return (child, place);
        }

        /// <summary>Takes in the object the reader is on the start of, <paramref name="depth"/> levels below the member; the reader is left on its end.</summary>
        public void Observe(ref Utf8JsonReader reader, int depth)
        {
            int after = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var found = reader.ValueIsEscaped || reader.ValueSpan.Length > FragmentColumns.MaxMemberName ? null : Child(reader.GetString()!, after + 1);
                reader.Read();
                if (found is not var (child, place))
                {
                    reader.Skip();
                    continue;
                }
                after = place;
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject when depth + 1 < MaxDepth:
                        if (child.Kind is not null) child.LeftOut = true;
                        child.IsObject = true;
                        child.Observe(ref reader, depth + 1);
                        break;
                    case JsonTokenType.String when !reader.ValueIsEscaped:
                        child.Take(LeafKind.String);
                        break;
                    case JsonTokenType.Number when KindOfNumber(ref reader) is { } kind:
                        child.Take(kind);
                        break;
                    case JsonTokenType.True or JsonTokenType.False:
                        child.Take(LeafKind.Boolean);
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
        }

        /// <summary>Takes in a declared leaf as a value holding it would; one too deep, with a name a value could not hold as written, or beyond the shape's room is left out.</summary>
        public void Declare(LeafPath leaf)
        {
            if (leaf.Path.Length is 0 or > MaxDepth || !leaf.Path.All(IsPlainName)) return;
            var node = this;
            foreach (string name in leaf.Path.AsSpan(0, leaf.Path.Length - 1))
            {
                if (node.Child(name) is not var (child, _)) return;
                if (child.Kind is not null) child.LeftOut = true;
                node = child;
            }
            if (node.Child(leaf.Path[^1]) is var (end, _)) end.Take(leaf.Kind);
        }

        /// <summary>Whether a name is written as JSON text as it is (no character of it is escaped), and not too long for a column's metadata.</summary>
        private static bool IsPlainName(string name) =>
            Encoding.UTF8.GetByteCount(name) <= FragmentColumns.MaxMemberName && !name.Any(c => c is '"' or '\\' || char.IsControl(c));

        private void Take(LeafKind kind)
        {
            if (IsObject || (Kind is { } held && held != kind && !(IsNumber(held) && IsNumber(kind)))) LeftOut = true;
            else Kind = Kind is { } number && number != kind ? LeafKind.Double : kind;
        }

        private static bool IsNumber(LeafKind kind) => kind is LeafKind.Integer or LeafKind.Double;
    }

    /// <summary>The number's type as its text writes it back: an integer, a number, or neither (null: no column keeps it as written).</summary>
    private static LeafKind? KindOfNumber(ref Utf8JsonReader reader) =>
        reader.TryGetInt64(out long integer) && WritesBack(integer, reader.ValueSpan) ? LeafKind.Integer
            : reader.TryGetDouble(out double number) && WritesBack(number, reader.ValueSpan) ? LeafKind.Double
            : null;

    /// <summary>Whether the integer is written back as <paramref name="text"/>, so that a column of integers keeps it as written.</summary>
    internal static bool WritesBack(long value, ReadOnlySpan<byte> text)
    {
        Span<byte> written = stackalloc byte[MaxNumberBytes];
        return value.TryFormat(written, out int length, default, CultureInfo.InvariantCulture) && written[..length].SequenceEqual(text);
    }

    /// <summary>Whether the number is written back (shortest round trip) as <paramref name="text"/>.</summary>
    internal static bool WritesBack(double value, ReadOnlySpan<byte> text)
    {
        Span<byte> written = stackalloc byte[MaxNumberBytes];
        return value.TryFormat(written, out int length, "R", CultureInfo.InvariantCulture) && written[..length].SequenceEqual(text);
    }

    /// <summary>The longest text of a number a leaf writes back ("R" of a double is at most 24 bytes, a long 20).</summary>
    private const int MaxNumberBytes = 32;

    private static LeafShape? Build(Draft root)
    {
        var leaves = new List<LeafPath>();
        int fixedBound = 2;
        var path = new List<string>();
        Node? Make(string name, Draft draft)
        {
            if (draft.LeftOut) return null;
            if (draft.Kind is { } kind)
            {
                leaves.Add(new LeafPath([.. path, name], kind));
                var leaf = new Node(name, kind, leaves.Count - 1, []);
                fixedBound += leaf.NameJson.Length + 1 + MaxNumberBytes;
                return leaf;
            }
            path.Add(name);
            var children = draft.Children.Select(c => Make(c.Name, c.Node)).OfType<Node>().ToArray();
            path.RemoveAt(path.Count - 1);
            if (children.Length == 0) return null;
            var node = new Node(name, null, -1, children);
            fixedBound += node.NameJson.Length + 3;
            return node;
        }
        var top = root.Children.Select(c => Make(c.Name, c.Node)).OfType<Node>().ToArray();
        return top.Length == 0 ? null : new LeafShape(new Node("", null, -1, top), leaves, fixedBound);
    }

    /// <summary>
    /// Puts a member's value (JSON text) in row <paramref name="row"/> of <paramref name="into"/> when it fits the shape;
    /// false, with the row left empty, when it does not.
    /// </summary>
    public bool TryShred(ReadOnlyMemory<byte> json, LeafColumns into, int row) => TryShred(json, into, row, out _);

    /// <param name="any">Whether the value holds a leaf (an empty object fits, and holds none).</param>
    private bool TryShred(ReadOnlyMemory<byte> json, LeafColumns into, int row, out bool any)
    {
        any = false;
        var reader = new Utf8JsonReader(json.Span);
        try
        {
            if (reader.Read() && reader.TokenType == JsonTokenType.StartObject && Fill(ref reader, json, _root, into, row, out any) && !reader.Read()) return true;
        }
        catch (JsonException)
        {
            // Text no JSON reader accepts keeps its text.
        }
        into.ClearRow(row);
        return false;
    }

    /// <summary>Fills the leaves of the object the reader is on the start of; <paramref name="any"/>: whether it had a leaf.</summary>
    private static bool Fill(ref Utf8JsonReader reader, ReadOnlyMemory<byte> json, Node node, LeafColumns into, int row, out bool any)
    {
        any = false;
        int next = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped) return false;
            int child = next;
            while (child < node.Children.Length && !reader.ValueSpan.SequenceEqual(node.Children[child].NameUtf8)) child++;
            if (child == node.Children.Length) return false;
            next = child + 1;
            var leaf = node.Children[child];
            reader.Read();
            if (leaf.Kind is not { } kind)
            {
                if (reader.TokenType != JsonTokenType.StartObject || !Fill(ref reader, json, leaf, into, row, out bool held) || !held) return false;
            }
            else if (!into.TrySet(leaf.Leaf, kind, ref reader, json, row)) return false;
            any = true;
        }
        return true;
    }

    /// <summary>The bytes <see cref="AppendJson"/> writes for the row at most.</summary>
    public int BoundOf(LeafColumns values, int row) => _fixedBound + values.StringBytes(row);

    /// <summary>Writes the row's value back as JSON text into <paramref name="into"/>; returns its length.</summary>
    public int AppendJson(LeafColumns values, int row, Span<byte> into)
    {
        int at = 0;
        WriteObject(_root, values, row, into, ref at, keepEmpty: true);
        return at;
    }

    /// <summary>
    /// Writes an object of the node's leaves the row holds; false, having written nothing, when it holds none and
    /// <paramref name="keepEmpty"/> is not set (an object below the member that fits holds a leaf).
    /// </summary>
    private static bool WriteObject(Node node, LeafColumns values, int row, Span<byte> into, ref int at, bool keepEmpty = false)
    {
        int start = at;
        into[at++] = (byte)'{';
        bool any = false;
        foreach (var child in node.Children)
        {
            int before = at;
            if (any) into[at++] = (byte)',';
            child.NameJson.CopyTo(into[at..]);
            at += child.NameJson.Length;
            bool written = child.Kind is { } kind ? values.TryWrite(child.Leaf, kind, row, into, ref at) : WriteObject(child, values, row, into, ref at);
            if (written) any = true;
            else at = before;
        }
        into[at++] = (byte)'}';
        if (!any && !keepEmpty) at = start;
        return any || keepEmpty;
    }
}

/// <summary>
/// A row group's values of a member's typed leaves (<see cref="LeafShape"/>), a column per leaf: as a writer shreds them
/// or a reader decodes them, null where the row has no value. A string is its UTF-8 text (no quotes, no escapes), a
/// slice of the record's text as written or of the column's packs as read.
/// </summary>
internal sealed class LeafColumns
{
    private readonly ReadOnlyMemory<byte>?[]?[] _strings;
    private readonly long?[]?[] _integers;
    private readonly double?[]?[] _doubles;
    private readonly bool?[]?[] _booleans;

    public LeafColumns(LeafShape shape, int rows)
    {
        Shape = shape;
        int count = shape.Leaves.Count;
        (_strings, _integers, _doubles, _booleans) = (new ReadOnlyMemory<byte>?[]?[count], new long?[]?[count], new double?[]?[count], new bool?[]?[count]);
        for (int leaf = 0; leaf < count; leaf++)
        {
            switch (shape.Leaves[leaf].Kind)
            {
                case LeafKind.String: _strings[leaf] = new ReadOnlyMemory<byte>?[rows]; break;
                case LeafKind.Integer: _integers[leaf] = new long?[rows]; break;
                case LeafKind.Double: _doubles[leaf] = new double?[rows]; break;
                default: _booleans[leaf] = new bool?[rows]; break;
            }
        }
    }

    public LeafShape Shape { get; }

    /// <summary>The values of a string leaf (null for a leaf of another type).</summary>
    public ReadOnlyMemory<byte>?[]? StringsOf(int leaf) => _strings[leaf];

    /// <summary>
    /// Sets the leaf's value in the row from the reader's token, when it holds the leaf's type as written back; false
    /// when it does not. <paramref name="json"/> is the text the reader reads, which a string's value is a slice of.
    /// </summary>
    public bool TrySet(int leaf, LeafKind kind, ref Utf8JsonReader reader, ReadOnlyMemory<byte> json, int row)
    {
        switch (kind)
        {
            case LeafKind.String when reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped:
                _strings[leaf]![row] = json.Slice((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length);
                return true;
            case LeafKind.Integer when reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out long integer) && LeafShape.WritesBack(integer, reader.ValueSpan):
                _integers[leaf]![row] = integer;
                return true;
            case LeafKind.Double when reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out double number) && LeafShape.WritesBack(number, reader.ValueSpan):
                _doubles[leaf]![row] = number;
                return true;
            case LeafKind.Boolean when reader.TokenType is JsonTokenType.True or JsonTokenType.False:
                _booleans[leaf]![row] = reader.TokenType == JsonTokenType.True;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Writes the leaf's value in the row as JSON text; false when the row has none.</summary>
    public bool TryWrite(int leaf, LeafKind kind, int row, Span<byte> into, ref int at)
    {
        int written;
        switch (kind)
        {
            case LeafKind.String:
                if (_strings[leaf]![row] is not { } text) return false;
                into[at++] = (byte)'"';
                text.Span.CopyTo(into[at..]);
                at += text.Length;
                into[at++] = (byte)'"';
                return true;
            case LeafKind.Integer:
                if (_integers[leaf]![row] is not { } integer) return false;
                integer.TryFormat(into[at..], out written, default, CultureInfo.InvariantCulture);
                break;
            case LeafKind.Double:
                if (_doubles[leaf]![row] is not { } number) return false;
                number.TryFormat(into[at..], out written, "R", CultureInfo.InvariantCulture);
                break;
            default:
                if (_booleans[leaf]![row] is not { } boolean) return false;
                (boolean ? "true"u8 : "false"u8).CopyTo(into[at..]);
                written = boolean ? 4 : 5;
                break;
        }
        at += written;
        return true;
    }

    /// <summary>The bytes the row's strings take, quotes included.</summary>
    public int StringBytes(int row)
    {
        int bytes = 0;
        foreach (var strings in _strings)
            if (strings?[row] is { } text) bytes += text.Length + 2;
        return bytes;
    }

    public void ClearRow(int row)
    {
        for (int leaf = 0; leaf < _strings.Length; leaf++)
        {
            if (_strings[leaf] is { } strings) strings[row] = null;
            else if (_integers[leaf] is { } integers) integers[row] = null;
            else if (_doubles[leaf] is { } doubles) doubles[row] = null;
            else _booleans[leaf]![row] = null;
        }
    }

    /// <summary>Empties the first <paramref name="rows"/> rows of every leaf.</summary>
    public void Clear(int rows)
    {
        for (int row = 0; row < rows; row++) ClearRow(row);
    }

    /// <summary>
    /// Writes the leaves' columns of the first <paramref name="rows"/> rows, in their order (<paramref name="fields"/>:
    /// one per leaf), a string leaf's by <paramref name="writeBytes"/> (in packs, as the file's other binary columns).
    /// </summary>
    public async Task WriteAsync(Parquet.ParquetRowGroupWriter group, IReadOnlyList<Parquet.Schema.DataField> fields, int rows,
        Func<Parquet.Schema.DataField, ReadOnlyMemory<byte>?[], Task> writeBytes, CancellationToken ct)
    {
        for (int leaf = 0; leaf < fields.Count; leaf++)
        {
            if (_strings[leaf] is { } strings) await writeBytes(fields[leaf], strings);
            else if (_integers[leaf] is { } integers) await group.WriteAsync<long>(fields[leaf], integers.AsMemory(0, rows), null, null, ct);
            else if (_doubles[leaf] is { } doubles) await group.WriteAsync<double>(fields[leaf], doubles.AsMemory(0, rows), null, null, ct);
            else await group.WriteAsync<bool>(fields[leaf], _booleans[leaf]!.AsMemory(0, rows), null, null, ct);
        }
    }

    /// <summary>
    /// Reads the columns of the leaves <paramref name="read"/> names of a row group of <paramref name="rows"/> rows, a
    /// string leaf's by <paramref name="readBytes"/> (its packs); the others stay empty.
    /// </summary>
    public async Task ReadAsync(Parquet.ParquetRowGroupReader group, IReadOnlyList<(int Leaf, Parquet.Schema.DataField Field)> read, int rows,
        Func<Parquet.Schema.DataField, ReadOnlyMemory<byte>?[], Task> readBytes, CancellationToken ct)
    {
        foreach (var (leaf, field) in read)
        {
            if (_strings[leaf] is { } strings) await readBytes(field, strings);
            else if (_integers[leaf] is { } integers) await group.ReadAsync<long>(field, integers.AsMemory(0, rows), null, ct);
            else if (_doubles[leaf] is { } doubles) await group.ReadAsync<double>(field, doubles.AsMemory(0, rows), null, ct);
            else await group.ReadAsync<bool>(field, _booleans[leaf]!.AsMemory(0, rows), null, ct);
        }
    }
}
