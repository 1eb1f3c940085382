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
    private readonly byte[][] _names;
    /// <summary>An open-addressed table of the names by the hash of their UTF-8: a name's index + 1, or 0 for an empty slot.</summary>
    private readonly int[] _slots;
    private readonly MergedValue[] _values;
    /// <summary>
    /// Each name's values in the layers that hold it not null, highest first (what <see cref="MergedValue.OfHeld"/>
    /// merges; arrays reused), and how many: none when no layer holds it.
    /// </summary>
    private readonly JsonElement[]?[] _held;
    private readonly int[] _heldCount;
    /// <summary>The names the layer being read holds, its last value of each (as a lookup by name finds it), and which layer that was.</summary>
    private readonly int[] _inLayer;
    private readonly JsonElement[] _last;
    private readonly int[] _lastIn;
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
        (_values, _held, _heldCount) = (new MergedValue[count], new JsonElement[count][], new int[count]);
        (_inLayer, _last, _lastIn) = (new int[count], new JsonElement[count], new int[count]);
    }

    /// <summary>The member named by name <paramref name="index"/> of the object last given to <see cref="Find"/>: false when no layer holds it, or only as null.</summary>
    public bool TryGet(int index, out MergedValue value)
    {
        value = _values[index];
        return _heldCount[index] > 0;
    }

    /// <summary>Finds the named members of <paramref name="value"/> (none when it is not an object).</summary>
    public void Find(MergedValue value)
    {
        Array.Clear(_heldCount);
        if (value.Kind != JsonValueKind.Object) return;
        int layers = value.LayerCount;
        for (int i = layers - 1; i >= 0; i--)
        {
            var layer = value.Layer(i);
            if (layer.ValueKind != JsonValueKind.Object) continue;
            int inLayer = 0;
            _layerStamp++;
            foreach (var member in layer.EnumerateObject())
            {
                int index = IndexOf(MergedValue.NameOf(member));
                if (index < 0) continue;
                _last[index] = member.Value;
                if (_lastIn[index] == _layerStamp) continue;
                _lastIn[index] = _layerStamp;
                _inLayer[inLayer++] = index;
            }
            for (int n = 0; n < inLayer; n++) Hold(_inLayer[n], _last[_inLayer[n]], layers);
        }
        for (int index = 0; index < _names.Length; index++)
        {
            int count = _heldCount[index];
            if (count == 0) continue;
            _values[index] = MergedValue.OfHeld(_held[index].AsSpan(0, count));
            // Nothing of the layers is held past the object: a lookup lives as long as its part, in the collector's oldest
            // generation, and what it held would keep each row's arrays alive into it (the stitched exports peaked 10-30 MB higher).
            Array.Clear(_held[index]!, 0, count);
        }
        Array.Clear(_last);
    }

    /// <summary>Lets go of the members found (the lookup holds nothing of the last object after it).</summary>
    public void Clear() => Array.Clear(_values);

    /// <summary>Holds a layer's value of a name, the layers above it held, unless it is null.</summary>
    private void Hold(int index, JsonElement member, int layers)
    {
        if (member.ValueKind == JsonValueKind.Null) return;
        int count = _heldCount[index];
        if (count == 0 && (_held[index] is not { } held || held.Length < layers)) _held[index] = new JsonElement[Math.Max(4, layers)];
        _held[index]![count] = member;
        _heldCount[index] = count + 1;
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
