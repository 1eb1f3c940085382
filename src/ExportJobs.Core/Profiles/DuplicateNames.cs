using System.Text;
using System.Text.Json;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// Finds a member name given twice in one object as a reader passes over a line's tokens: which of two values a record
/// "has" would otherwise depend on the reader. An object's first repeated name is told when the object ends, so the
/// first object to end with one is the one named (as a parse into a document names it). Names are compared as their
/// unescaped UTF-8 text: each with the names before it in a small object, through a set in one of more than
/// <see cref="ScannedNames"/> (so that a line of many names costs no more than their count).
/// </summary>
public sealed class DuplicateNames
{
    private const int ScannedNames = 16;

    /// <summary>The unescaped names of the open objects, one after the other, and where each one is in <see cref="_text"/>.</summary>
    private byte[] _text = new byte[KeptTextBytes];
    private int _used;
    private readonly List<(int Start, int Length)> _names = [];
    private readonly List<(int FirstName, int TextStart, HashSet<string>? Set, string? Repeated)> _objects = [];

    /// <summary>Starts a line. A thread keeps one of these: what a line of very many names grew is let go at the next.</summary>
    public void Start()
    {
        _used = 0;
        _names.Clear();
        _objects.Clear();
        if (_text.Length > KeptTextBytes) _text = new byte[KeptTextBytes];
        if (_names.Capacity > KeptNames) _names.Capacity = KeptNames;
    }

    private const int KeptTextBytes = 16 * 1024, KeptNames = 1024;

    /// <summary>Reads one token; at the end of an object, returns its first repeated name, if any.</summary>
    public string? Read(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                _objects.Add((_names.Count, _used, null, null));
                return null;
            case JsonTokenType.EndObject:
                var (firstName, textStart, _, repeated) = _objects[^1];
                _objects.RemoveAt(_objects.Count - 1);
                _names.RemoveRange(firstName, _names.Count - firstName);
                _used = textStart;
                return repeated;
            case JsonTokenType.PropertyName:
                if (Add(ref reader) is { } name && _objects[^1].Repeated is null) _objects[^1] = _objects[^1] with { Repeated = name };
                return null;
            default:
                return null;
        }
    }

    private string? Add(ref Utf8JsonReader reader)
    {
        if (_used + reader.ValueSpan.Length > _text.Length) Array.Resize(ref _text, Math.Max(_text.Length * 2, _used + reader.ValueSpan.Length));
        int length = reader.ValueIsEscaped ? reader.CopyString(_text.AsSpan(_used)) : Copy(reader.ValueSpan);
        var name = _text.AsSpan(_used, length);
        var (firstName, textStart, set, repeated) = _objects[^1];
        if (set is not null)
        {
            string text = Encoding.UTF8.GetString(name);
            return set.Add(text) ? null : text;
        }
        for (int i = firstName; i < _names.Count; i++)
            if (name.SequenceEqual(_text.AsSpan(_names[i].Start, _names[i].Length))) return Encoding.UTF8.GetString(name);
        _names.Add((_used, length));
        _used += length;
        if (_names.Count - firstName > ScannedNames)
            _objects[^1] = (firstName, textStart, new HashSet<string>(_names.Skip(firstName).Select(n => Encoding.UTF8.GetString(_text, n.Start, n.Length)), StringComparer.Ordinal), repeated);
        return null;
    }

    private int Copy(ReadOnlySpan<byte> name)
    {
        name.CopyTo(_text.AsSpan(_used));
        return name.Length;
    }
}
