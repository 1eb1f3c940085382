using System.Numerics;
using System.Text;
using System.Text.Json;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// A fixed set of member names found in a merged object all at once (<see cref="Find"/>): each of its layers' members
/// is gone through once, where <see cref="MergedValue.TryGetProperty(ReadOnlySpan{byte}, out MergedValue)"/> for each
/// name goes through every layer's members once per name. Each name gets what that method gives it. It holds the
/// members of the object it was last given until <see cref="Clear"/> (one object at a time: not for use by two threads).
/// </summary>
public sealed class MemberLookup
{
    private enum Found : byte { None, Value, Objects, ObjectsEnded }

    private readonly byte[][] _names;
    /// <summary>An open-addressed table of the names by the hash of their UTF-8: a name's index + 1, or 0 for an empty slot.</summary>
    private readonly int[] _slots;
    private readonly Found[] _found;
    private readonly MergedValue[] _values;
    /// <summary>For a name held as objects: the highest of them, how many, and (from two on) all of them, highest first (arrays reused).</summary>
    private readonly JsonElement[] _highest;
    private readonly int[] _objects;
    private readonly JsonElement[]?[] _layered;
    private int _layerCount;
    /// <summary>The names the layer being read holds, its last value of each (as a lookup by name finds it), and which layer that was.</summary>
    private readonly int[] _held;
    private readonly JsonElement[] _last;
    private readonly int[] _heldIn;
    private int _layerStamp;

    public MemberLookup(IReadOnlyList<string> names)
    {
        _names = [.. names.Select(Encoding.UTF8.GetBytes)];
        _slots = new int[Math.Max(4, (int)BitOperations.RoundUpToPowerOf2((uint)_names.Length * 2))];
        for (int i = 0; i < _names.Length; i++)
        {
            if (IndexOf(_names[i]) >= 0) throw new ArgumentException($"The name '{names[i]}' is given twice.", nameof(names));
            int slot = Hash(_names[i]) & (_slots.Length - 1);
            while (_slots[slot] != 0) slot = (slot + 1) & (_slots.Length - 1);
            _slots[slot] = i + 1;
        }
        int count = _names.Length;
        (_found, _values, _highest, _objects, _layered) = (new Found[count], new MergedValue[count], new JsonElement[count], new int[count], new JsonElement[count][]);
        (_held, _last, _heldIn) = (new int[count], new JsonElement[count], new int[count]);
    }

    /// <summary>The member named by name <paramref name="index"/> of the object last given to <see cref="Find"/>: false when no layer holds it, or only as null.</summary>
    public bool TryGet(int index, out MergedValue value)
    {
        value = _values[index];
        return _found[index] != Found.None;
    }

    /// <summary>Finds the named members of <paramref name="value"/> (none when it is not an object).</summary>
    public void Find(MergedValue value)
    {
        Array.Clear(_found);
        if (value.Kind != JsonValueKind.Object) return;
        _layerCount = value.LayerCount;
        for (int i = _layerCount - 1; i >= 0; i--)
        {
            var layer = value.Layer(i);
            if (layer.ValueKind != JsonValueKind.Object) continue;
            int held = 0;
            _layerStamp++;
            foreach (var member in layer.EnumerateObject())
            {
                int index = IndexOf(MergedValue.NameOf(member));
                if (index < 0) continue;
                _last[index] = member.Value;
                if (_heldIn[index] == _layerStamp) continue;
                _heldIn[index] = _layerStamp;
                _held[held++] = index;
            }
            for (int h = 0; h < held; h++) Take(_held[h], _last[_held[h]]);
        }
        for (int index = 0; index < _names.Length; index++)
        {
            if (_found[index] is not (Found.Objects or Found.ObjectsEnded)) continue;
            int objects = _objects[index];
            if (objects == 1)
            {
                _values[index] = MergedValue.Of(_highest[index]);
                continue;
            }
            // An array of the value's own (it outlives this lookup's next object), lowest first.
            var layers = new JsonElement[objects];
            for (int j = 0; j < objects; j++) layers[j] = _layered[index]![objects - 1 - j];
            _values[index] = MergedValue.Layered(layers, objects);
        }
        // Nothing of the layers is held past the object: a lookup lives as long as its part, in the collector's oldest
        // generation, and what it held would keep each row's arrays alive into it (the stitched exports peaked 10-30 MB higher).
        Array.Clear(_last);
        Array.Clear(_highest);
        foreach (var layered in _layered) if (layered is not null) Array.Clear(layered);
    }

    /// <summary>Lets go of the members found (the lookup holds nothing of the last object after it).</summary>
    public void Clear() => Array.Clear(_values);

    /// <summary>
    /// Takes a layer's value of a name, the layers above it taken: the value of the highest layer that holds it not
    /// null, or the objects from there down to the first layer that holds something else.
    /// </summary>
    private void Take(int index, JsonElement member)
    {
        if (member.ValueKind == JsonValueKind.Null) return;
        bool isObject = member.ValueKind == JsonValueKind.Object;
        switch (_found[index])
        {
            case Found.None when !isObject:
                (_found[index], _values[index]) = (Found.Value, MergedValue.Of(member));
                break;
            case Found.None:
                (_found[index], _highest[index], _objects[index]) = (Found.Objects, member, 1);
                break;
            case Found.Objects when !isObject:
                _found[index] = Found.ObjectsEnded;
                break;
            case Found.Objects:
                if (_objects[index] == 1)
                {
                    if (_layered[index] is not { } held || held.Length < _layerCount) _layered[index] = new JsonElement[Math.Max(4, _layerCount)];
                    _layered[index]![0] = _highest[index];
                }
                _layered[index]![_objects[index]++] = member;
                break;
        }
    }

    private int IndexOf(ReadOnlySpan<byte> name)
    {
        int mask = _slots.Length - 1;
        for (int slot = Hash(name) & mask; ; slot = (slot + 1) & mask)
        {
            int entry = _slots[slot];
            if (entry == 0) return -1;
            if (name.SequenceEqual(_names[entry - 1])) return entry - 1;
        }
    }

    /// <summary>A hash of a name's length and three of its bytes: names are short and a set's few, and a match is confirmed byte by byte.</summary>
    private static int Hash(ReadOnlySpan<byte> name) =>
        name.IsEmpty ? 0 : (name.Length * 131) ^ (name[0] * 31 + name[^1] * 7 + name[name.Length / 2]);
}
