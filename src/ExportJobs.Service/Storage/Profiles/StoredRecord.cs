using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>A top-level member name of records, with its JSON text (quoted, escaped, followed by a colon) to write it back.</summary>
internal sealed class MemberName
{
    private static readonly ConcurrentDictionary<string, MemberName> Known = new(StringComparer.Ordinal);
    /// <summary>
    /// How many names <see cref="Of(string)"/> keeps for reuse, and how long a name it keeps may be (hostile data can have
    /// any number of names, each as long as a record): at most 4,096 × 256 characters, whatever the data.
    /// </summary>
    private const int KnownLimit = 4096, MaxLookedUp = 256;

    private MemberName(string text)
    {
        Text = text;
        Json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(text, NameOptions) + ":");
    }

    private static readonly JsonSerializerOptions NameOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public string Text { get; }
    public byte[] Json { get; }

    public static MemberName Of(string text)
    {
        if (Known.TryGetValue(text, out var name)) return name;
        name = new MemberName(text);
        return Known.Count < KnownLimit && text.Length <= MaxLookedUp ? Known.GetOrAdd(text, name) : name;
    }

    /// <summary>The name a reader is on (a property name), made into a string only the first time it is seen unescaped.</summary>
    public static MemberName Of(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped && !reader.HasValueSequence && reader.ValueSpan.Length <= MaxLookedUp)
        {
            Span<char> text = stackalloc char[MaxLookedUp];
            int length = Encoding.UTF8.GetChars(reader.ValueSpan, text);
            if (Known.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(text[..length], out var known)) return known;
        }
        return Of(reader.GetString()!);
    }


    public override string ToString() => Text;
}

/// <summary>One top-level member of a record: its name and its value's JSON text, as ingested.</summary>
internal readonly record struct Member(MemberName Name, ReadOnlyMemory<byte> Value);

/// <summary>
/// A record as fragment files keep it: its top-level members in the record's order, each value's JSON text stored in a
/// column of the member's own (<see cref="FragmentColumns"/>), so that a read decodes and parses only the members a job
/// needs; or its whole JSON text, for a record that cannot be split so (not an object, a member name repeated, more
/// names in a file than it has member columns) and in files of earlier builds.
/// </summary>
internal sealed class StoredRecord
{
    private readonly ReadOnlyMemory<byte> _whole;
    /// <summary>The members, looped over as the array they are (through the interface, each loop allocates an enumerator).</summary>
    private readonly Member[] _members;

    private StoredRecord(Member[] members, ReadOnlyMemory<byte> whole, bool isWhole) => (_members, _whole, IsWhole) = (members, whole, isWhole);

    /// <summary>The members (in the record's order), or, when read, those of them that were asked for; none when <see cref="IsWhole"/>.</summary>
    public IReadOnlyList<Member> Members => _members;

    public bool IsWhole { get; }

    public static StoredRecord OfMembers(Member[] members) => new(members, default, false);

    public static StoredRecord OfWhole(ReadOnlyMemory<byte> json) => new([], json, true);

    /// <summary>
    /// A JSON object's text split into its top-level members; kept whole when it is not an object, repeats a name, has
    /// a name longer than <see cref="FragmentColumns.MaxMemberName"/> or more members than a file has member columns.
    /// </summary>
    public static StoredRecord Split(ReadOnlyMemory<byte> json)
    {
        var reader = new Utf8JsonReader(json.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return OfWhole(json);
        var members = SplitMembers ??= new List<Member>(16);
        members.Clear();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueSpan.Length > FragmentColumns.MaxMemberName) return OfWhole(json);
            var name = MemberName.Of(ref reader);
            members.Add(new Member(name, ValueAfterName(ref reader, json)));
            if (members.Count > FragmentColumns.MaxMembers) return OfWhole(json);
            for (int i = 0; i < members.Count - 1; i++)
                if (ReferenceEquals(members[i].Name, name) || members[i].Name.Text == name.Text) return OfWhole(json);
        }
        return OfMembers([.. members]);
    }

    /// <summary>The text of the value whose name the reader is on, the reader left on its last token.</summary>
    private static ReadOnlyMemory<byte> ValueAfterName(ref Utf8JsonReader reader, ReadOnlyMemory<byte> json)
    {
        reader.Read();
        int start = (int)reader.TokenStartIndex;
        reader.Skip();
        return json[start..(int)reader.BytesConsumed];
    }

    /// <summary>The text of member <paramref name="name"/>; null when the record has none (or is kept whole).</summary>
    public ReadOnlyMemory<byte>? ValueOf(MemberName name)
    {
        foreach (var member in _members)
            if (ReferenceEquals(member.Name, name) || member.Name.Text == name.Text) return member.Value;
        return null;
    }

    /// <summary>
    /// Whether <paramref name="test"/> holds for the text of a member <paramref name="name"/> of the record (of any
    /// one, in a record kept whole for a repeated name); true for a record that is not an object, which is not looked into.
    /// </summary>
    public bool AnyMember(string name, MemberPrefilter.Test test)
    {
        if (!IsWhole)
        {
            foreach (var member in _members)
                if (member.Name.Text == name && test(member.Value.Span)) return true;
            return false;
        }
        var reader = new Utf8JsonReader(_whole.Span);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool named = reader.ValueTextEquals(name);
            var value = ValueAfterName(ref reader, _whole);
            if (named && test(value.Span)) return true;
        }
        return false;
    }

    /// <summary>
    /// This record without its member <paramref name="name"/>; a record kept whole is split first, and one that cannot be
    /// split stays as it is.
    /// </summary>
    public StoredRecord Without(string name)
    {
        var record = IsWhole ? Split(_whole) : this;
        if (record.IsWhole || !record.Members.Any(m => m.Name.Text == name)) return record;
        return OfMembers(record.Members.Where(m => m.Name.Text != name).ToArray());
    }

    /// <summary>The members a split collects on this thread before they become the record's array.</summary>
    [ThreadStatic] private static List<Member>? SplitMembers;

    /// <summary>The record's JSON text: the whole text, or an object of its members (those read) in their order.</summary>
    public ReadOnlyMemory<byte> ToJson()
    {
        if (IsWhole) return _whole;
        var json = new ArrayBufferWriter<byte>(JsonLengthOf(_members));
        AppendJson(_members, json);
        return json.WrittenMemory;
    }

    /// <summary>
    /// Writes the record's JSON text (as <see cref="ToJson()"/> gives it) after what <paramref name="text"/> holds; with
    /// <paramref name="repeated"/>, without the members it finds repeated.
    /// </summary>
    public void AppendJsonTo(ArrayBufferWriter<byte> text, RepeatedMembers? repeated)
    {
        if (IsWhole) AppendWhole(_whole.Span, text, repeated);
        else AppendJson(_members, text, repeated);
    }

    /// <summary>Writes a record kept whole after what <paramref name="text"/> holds; <paramref name="repeated"/> forgets the records before it.</summary>
    public static void AppendWhole(ReadOnlySpan<byte> whole, ArrayBufferWriter<byte> text, RepeatedMembers? repeated)
    {
        repeated?.Forget();
        text.Write(whole);
    }

    /// <summary>As <see cref="AppendJson(ReadOnlySpan{Member}, ArrayBufferWriter{byte})"/>, without the members <paramref name="repeated"/> finds repeated.</summary>
    public static void AppendJson(ReadOnlySpan<Member> members, ArrayBufferWriter<byte> text, RepeatedMembers? repeated) =>
        AppendJson(repeated is null ? members : repeated.Keep(members), text);

    /// <summary>Writes an object of these members, in their order, as JSON text after what <paramref name="text"/> holds.</summary>
    public static void AppendJson(ReadOnlySpan<Member> members, ArrayBufferWriter<byte> text)
    {
        var json = text.GetSpan(JsonLengthOf(members));
        json[0] = (byte)'{';
        int at = 1;
        for (int i = 0; i < members.Length; i++)
        {
            if (i > 0) json[at++] = (byte)',';
            members[i].Name.Json.CopyTo(json[at..]);
            at += members[i].Name.Json.Length;
            members[i].Value.Span.CopyTo(json[at..]);
            at += members[i].Value.Length;
        }
        json[at++] = (byte)'}';
        text.Advance(at);
    }

    private static int JsonLengthOf(ReadOnlySpan<Member> members)
    {
        int length = 2 + Math.Max(0, members.Length - 1);
        foreach (var member in members) length += member.Name.Json.Length + member.Value.Length;
        return length;
    }
}
