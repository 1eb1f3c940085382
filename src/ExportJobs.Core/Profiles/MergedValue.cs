using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// A JSON value read through the records it merges, path by path, without building the merged value: the one place of
/// the merge rule. The layers are JSON objects, lowest precedence first. A member is the value of the highest layer that
/// holds it not null — a JSON null is as if the member were absent, and does not erase a lower value. When that value
/// is an object, the member is itself layered: that object and, below it, the objects the lower layers hold there, down
/// to the first that holds something else (which the object replaced). Anything else (arrays included) is the value of
/// that one layer. Valid as long as the layers' documents are.
/// </summary>
public readonly struct MergedValue
{
    private static readonly JsonElement EmptyObject = JsonElement.Parse("{}");

    private readonly JsonElement _top;
    private readonly JsonElement[]? _layers;
    private readonly int _count;

    private MergedValue(JsonElement top, JsonElement[]? layers, int count) => (_top, _layers, _count) = (top, layers, count);

    /// <summary>One value as it is (its objects' null members read as absent).</summary>
    public static MergedValue Of(JsonElement element) => new(element, null, 1);

    /// <summary>A value built in memory (copied: it may change afterwards).</summary>
    public static MergedValue Of(JsonNode node) => Of(JsonElement.Parse(Utf8(writer => node.WriteTo(writer)).WrittenSpan));

    /// <summary>The first <paramref name="count"/> objects of <paramref name="layers"/>, lowest precedence first, merged (none: an empty object).</summary>
    public static MergedValue Layered(JsonElement[] layers, int count) => count switch
    {
        0 => Of(EmptyObject),
        1 => Of(layers[0]),
        _ => new(layers[count - 1], layers, count),
    };

    /// <summary>This object with <paramref name="newer"/> merged over it (this value must be an object).</summary>
    public MergedValue With(JsonObject newer)
    {
        var layers = new JsonElement[_count + 1];
        if (_layers is null) layers[0] = _top;
        else Array.Copy(_layers, layers, _count);
        layers[_count] = Of(newer)._top;
        return new(layers[_count], layers, _count + 1);
    }

    /// <summary>The kind of the value (for a layered object, <see cref="JsonValueKind.Object"/>).</summary>
    public JsonValueKind Kind => _top.ValueKind;

    /// <summary>How many values the value reads through (one unless it is an object merged from several layers).</summary>
    internal int LayerCount => _layers is null ? 1 : _count;

    /// <summary>Value <paramref name="index"/> of those it reads through, lowest precedence first.</summary>
    internal JsonElement Layer(int index) => _layers is null ? _top : _layers[index];

    /// <summary>The value itself when it is not an object merged from several layers (a leaf or an array).</summary>
    public JsonElement Element => _layers is null ? _top : throw new InvalidOperationException("A layered object has no single element.");

    public string? GetString() => Element.GetString();

    /// <summary>The member <paramref name="name"/>: false when no layer holds it, or only as null.</summary>
    public bool TryGetProperty(string name, out MergedValue value)
    {
        // Made UTF-8 once here, not by each layer's lookup.
        int most = Encoding.UTF8.GetMaxByteCount(name.Length);
        byte[]? rented = most <= NameBufferBytes ? null : ArrayPool<byte>.Shared.Rent(most);
        Span<byte> utf8 = rented is null ? stackalloc byte[NameBufferBytes] : rented;
        try
        {
            return TryGetProperty(utf8[..Encoding.UTF8.GetBytes(name, utf8)], out value);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The member whose name is <paramref name="name"/> (its unescaped UTF-8): false when no layer holds it, or only as null.</summary>
    public bool TryGetProperty(ReadOnlySpan<byte> name, out MergedValue value)
    {
        value = default;
        if (_layers is null)
        {
            if (_top.ValueKind != JsonValueKind.Object || !_top.TryGetProperty(name, out var member) || member.ValueKind == JsonValueKind.Null) return false;
            value = Of(member);
            return true;
        }

        // From the highest layer down, the values that decide: down to the first that is not an object.
        var onStack = new HeldValues();
        Span<JsonElement> held = _count <= HeldOnStack ? onStack : new JsonElement[_count];
        int count = 0;
        for (int i = _count - 1; i >= 0; i--)
        {
            if (!Holds(_layers[i], name, out var member)) continue;
            held[count++] = member;
            if (member.ValueKind != JsonValueKind.Object) break;
        }
        if (count == 0) return false;
        value = OfHeld(held[..count]);
        return true;
    }

    /// <summary>
    /// The merge rule for one member, from its values in the layers that hold it not null, highest first: the highest's
    /// when it is not an object; when it is, the objects from there down to the first value that is not one, merged.
    /// Objects of the same text merge into that object, members and their order alike (records' names are never
    /// repeated in an object), so they are one value: an identity's <c>identityMap</c>, which each of its records holds.
    /// </summary>
    internal static MergedValue OfHeld(ReadOnlySpan<JsonElement> held)
    {
        int objects = 0;
        while (objects < held.Length && held[objects].ValueKind == JsonValueKind.Object) objects++;
        if (objects <= 1 || SameText(held[..objects])) return Of(held[0]);
        var layers = new JsonElement[objects];
        for (int i = 0; i < objects; i++) layers[i] = held[objects - 1 - i];
        return new(held[0], layers, objects);
    }

    private static bool SameText(ReadOnlySpan<JsonElement> values)
    {
        var first = JsonMarshal.GetRawUtf8Value(values[0]);
        for (int i = 1; i < values.Length; i++)
            if (!JsonMarshal.GetRawUtf8Value(values[i]).SequenceEqual(first)) return false;
        return true;
    }

    /// <summary>The layers whose values of a member <see cref="TryGetProperty(ReadOnlySpan{byte}, out MergedValue)"/> holds on the stack (more: in an array).</summary>
    private const int HeldOnStack = 8;

    [System.Runtime.CompilerServices.InlineArray(HeldOnStack)]
    private struct HeldValues
    {
        private JsonElement _first;
    }

    private static bool Holds(JsonElement layer, ReadOnlySpan<byte> name, out JsonElement member)
    {
        member = default;
        return layer.ValueKind == JsonValueKind.Object && layer.TryGetProperty(name, out member) && member.ValueKind != JsonValueKind.Null;
    }

    /// <summary>
    /// An object's members, each once, in the order the merge first gave each a value (lowest layer first, then each
    /// layer's order), as a fold of the layers into one object would place them.
    /// </summary>
    public IEnumerable<(string Name, MergedValue Value)> EnumerateObject()
    {
        if (_layers is null)
        {
            foreach (var member in _top.EnumerateObject())
                if (member.Value.ValueKind != JsonValueKind.Null) yield return (member.Name, Of(member.Value));
            yield break;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < _count; i++)
        {
            if (_layers[i].ValueKind != JsonValueKind.Object) continue;
            foreach (var member in _layers[i].EnumerateObject())
                if (member.Value.ValueKind != JsonValueKind.Null && seen.Add(member.Name) && TryGetProperty(member.Name, out var value))
                    yield return (member.Name, value);
        }
    }

    /// <summary>
    /// Writes the merged value, members in the order of <see cref="EnumerateObject"/>, without building it: names are
    /// read as the documents hold them (no string, no iterator; it runs for every JSON column value).
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        // A value of one layer is written by its document (escaped by the writer as below) when no member of it can be
        // null, which would be left out: when its text holds no "null".
        if (Kind != JsonValueKind.Object || (_layers is null && JsonMarshal.GetRawUtf8Value(_top).IndexOf("null"u8) < 0))
        {
            _top.WriteTo(writer);
            return;
        }
        writer.WriteStartObject();
        for (int i = 0; i < (_layers is null ? 1 : _count); i++)
        {
            var layer = _layers is null ? _top : _layers[i];
            if (layer.ValueKind != JsonValueKind.Object) continue;
            foreach (var member in layer.EnumerateObject())
            {
                if (member.Value.ValueKind == JsonValueKind.Null) continue;
                var name = NameOf(member);
                if (_layers is null)
                {
                    writer.WritePropertyName(name);
                    Of(member.Value).WriteTo(writer);
                }
                else if (!HeldBelow(i, name) && TryGetProperty(name, out var value))
                {
                    writer.WritePropertyName(name);
                    value.WriteTo(writer);
                }
            }
        }
        writer.WriteEndObject();
    }

    /// <summary>
    /// What <see cref="WriteTo"/> writes through a writer of the default options, without writing it: the value's own
    /// text, when it is one value whose text such a writer would write back unchanged (no white space, no escape and no
    /// character the default encoder escapes; for an object, no null member). False otherwise.
    /// </summary>
    public bool TryGetWrittenText(out ReadOnlySpan<byte> utf8)
    {
        utf8 = default;
        if (_layers is not null) return false;
        var raw = JsonMarshal.GetRawUtf8Value(_top);
        if (raw.IndexOfAnyExcept(WrittenUnchanged) >= 0 || (Kind == JsonValueKind.Object && raw.IndexOf("null"u8) >= 0)) return false;
        utf8 = raw;
        return true;
    }

    /// <summary>The bytes a default writer writes as they are: printable ASCII but space, the escape and what its encoder escapes for HTML.</summary>
    private static readonly SearchValues<byte> WrittenUnchanged = SearchValues.Create(
        Enumerable.Range(0x21, 0x7E - 0x21 + 1).Select(b => (byte)b).Where(b => "\\<>&'+`"u8.IndexOf(b) < 0).ToArray());

    /// <summary>Bytes of a name made UTF-8 on the stack (<see cref="TryGetProperty(string, out MergedValue)"/>) before one is rented.</summary>
    private const int NameBufferBytes = 256;

    /// <summary>The member's name, unescaped UTF-8: as the document holds it unless it has an escape.</summary>
    internal static ReadOnlySpan<byte> NameOf(JsonProperty member)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(member);
        return raw.IndexOf((byte)'\\') < 0 ? raw : Encoding.UTF8.GetBytes(member.Name);
    }

    /// <summary>Whether a layer below <paramref name="layer"/> holds the member: then the merge gave it its place there.</summary>
    private bool HeldBelow(int layer, ReadOnlySpan<byte> name)
    {
        for (int i = 0; i < layer; i++)
            if (Holds(_layers![i], name, out _)) return true;
        return false;
    }

    public string ToJsonString() => System.Text.Encoding.UTF8.GetString(Utf8(WriteTo).WrittenSpan);

    /// <summary>The merged value built as nodes of its own (they outlive the layers).</summary>
    public JsonNode ToNode() => JsonNode.Parse(Utf8(WriteTo).WrittenSpan)!;

    private static ArrayBufferWriter<byte> Utf8(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer)) write(writer);
        return buffer;
    }
}
