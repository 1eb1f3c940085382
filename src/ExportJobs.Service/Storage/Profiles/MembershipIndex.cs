using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The memberships index of a fragment file (column <see cref="FragmentColumns.Memberships"/>): for each row, what the
/// segment filter of an export reads of the record's <c>segmentMembership</c>, so that a read decides a profile's
/// segments without decoding or parsing the member (<see cref="IndexedSegmentFilter"/>). A row's value is null when
/// the index does not describe the record: the record is kept whole, or its member has a shape other than the map of
/// namespaces to segment ids to entry objects (a value of another kind at those levels, a name given twice, a status
/// or qualification time that is neither a string nor null, a name or value escaped or over <see cref="MaxText"/>
/// bytes, more than <see cref="MaxEntries"/> entries): a read then looks at the member itself. Empty when the record has no
/// membership (no member, or null). Otherwise the entries that hold a status or a qualification time, each as
/// namespace, segment id, status and time, UTF-8 as the record holds them (none escaped), each length a 16-bit integer (0 for a status or time the
/// entry does not hold, else its length plus one).
/// </summary>
internal static class MembershipIndex
{
    public const int MaxText = 1024, MaxEntries = 512;

    private static readonly MemberName Name = MemberName.Of(ExportSelection.SegmentMembership);

    /// <summary>Writes the index of a record's value into <paramref name="into"/>; false (and what was written is to be dropped) when it does not describe it.</summary>
    public static bool TryWrite(StoredRecord record, ArrayBufferWriter<byte> into)
    {
        if (record.IsWhole) return false;
        return record.ValueOf(Name) is not { } membership || TryWrite(membership.Span, into);
    }

    private static bool TryWrite(ReadOnlySpan<byte> membership, ArrayBufferWriter<byte> into)
    {
        var reader = new Utf8JsonReader(membership);
        if (!reader.Read()) return false;
        if (reader.TokenType == JsonTokenType.Null) return true;
        if (reader.TokenType != JsonTokenType.StartObject) return false;
        var namespaces = NamespacesSeen ??= [];
        var segments = SegmentsSeen ??= [];
        namespaces.Clear();
        int entries = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!TryText(ref reader, out var ns) || !Distinct(namespaces, ns, membership, (int)reader.TokenStartIndex + 1) || !reader.Read()) return false;
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (reader.TokenType != JsonTokenType.StartObject) return false;
            segments.Clear();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!TryText(ref reader, out var segment) || !Distinct(segments, segment, membership, (int)reader.TokenStartIndex + 1) || !reader.Read()) return false;
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject) return false;
                scoped ReadOnlySpan<byte> status = default, time = default;
                bool seenStatus = false, seenTime = false, hasStatus = false, hasTime = false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    bool isStatus = reader.ValueTextEquals(ExportSelection.StatusMember), isTime = !isStatus && reader.ValueTextEquals(ExportSelection.QualificationTimeMember);
                    if (!reader.Read()) return false;
                    if (!isStatus && !isTime)
                    {
                        reader.Skip();
                        continue;
                    }
                    ref bool seen = ref isStatus ? ref seenStatus : ref seenTime;
                    if (seen) return false;
                    seen = true;
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.String || !TryText(ref reader, out var text)) return false;
                    if (isStatus) status = text;
                    else time = text;
                    hasStatus |= isStatus;
                    hasTime |= isTime;
                }
                if (!hasStatus && !hasTime) continue;
                if (++entries > MaxEntries) return false;
                WriteText(into, ns, 0);
                WriteText(into, segment, 0);
                WriteText(into, status, hasStatus ? 1 : 0);
                WriteText(into, time, hasTime ? 1 : 0);
            }
        }
        return true;
    }

    /// <summary>
    /// The text of the name or string the reader is on, as the member holds it: false when it is escaped (its text
    /// would need unescaping to be compared) or longer than <see cref="MaxText"/>.
    /// </summary>
    private static bool TryText(ref Utf8JsonReader reader, out ReadOnlySpan<byte> text)
    {
        text = reader.ValueSpan;
        return !reader.ValueIsEscaped && !reader.HasValueSequence && text.Length <= MaxText;
    }

    /// <summary>Whether <paramref name="name"/>, at <paramref name="at"/> in <paramref name="membership"/>, is not one of <paramref name="seen"/> (where names lie in it); adds it.</summary>
    private static bool Distinct(List<(int Start, int Length)> seen, scoped ReadOnlySpan<byte> name, scoped ReadOnlySpan<byte> membership, int at)
    {
        if (seen.Count >= MaxEntries) return false;
        foreach (var (start, length) in seen)
            if (name.SequenceEqual(membership.Slice(start, length))) return false;
        seen.Add((at, name.Length));
        return true;
    }

    /// <summary>The names of the level being indexed, on this thread: where they lie in the member's text.</summary>
    [ThreadStatic] private static List<(int Start, int Length)>? NamespacesSeen, SegmentsSeen;

    private static void WriteText(ArrayBufferWriter<byte> into, ReadOnlySpan<byte> text, int plus)
    {
        var span = into.GetSpan(2 + text.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(plus == 0 ? text.Length : text.Length + 1));
        text.CopyTo(span[2..]);
        into.Advance(2 + text.Length);
    }

    /// <summary>
    /// A membership that holds what the index holds: for the filter, the same as the member it was made from (what it
    /// leaves out — entries without a status or time, empty objects, other members of entries — qualifies for nothing,
    /// merged over or under anything). Its texts were not escaped, so they are written as they are.
    /// </summary>
    public static byte[] ToJson(ReadOnlySpan<byte> index)
    {
        var json = new ArrayBufferWriter<byte>();
        ReadOnlySpan<byte> ns = default;
        bool first = true;
        json.Write("{"u8);
        foreach (var entry in new Entries(index))
        {
            if (first || !entry.Namespace.SequenceEqual(ns))
            {
                json.Write(first ? "\""u8 : "},\""u8);
                json.Write(entry.Namespace);
                json.Write("\":{"u8);
            }
            else json.Write(","u8);
            json.Write("\""u8);
            json.Write(entry.Segment);
            json.Write("\":{"u8);
            if (entry.HasStatus) WriteMember(json, "\"status\":\""u8, entry.Status);
            if (entry.HasStatus && entry.HasTime) json.Write(","u8);
            if (entry.HasTime) WriteMember(json, "\"lastQualificationTime\":\""u8, entry.Time);
            json.Write("}"u8);
            ns = entry.Namespace;
            first = false;
        }
        json.Write(first ? "}"u8 : "}}"u8);
        return json.WrittenSpan.ToArray();
    }

    private static void WriteMember(ArrayBufferWriter<byte> json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> text)
    {
        json.Write(name);
        json.Write(text);
        json.Write("\""u8);
    }

    /// <summary>One entry of a row's index: a status or time it does not hold is <c>Has…</c> false.</summary>
    public readonly ref struct Entry(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> segment, bool hasStatus, ReadOnlySpan<byte> status, bool hasTime, ReadOnlySpan<byte> time)
    {
        public ReadOnlySpan<byte> Namespace { get; } = ns;
        public ReadOnlySpan<byte> Segment { get; } = segment;
        public bool HasStatus { get; } = hasStatus;
        public ReadOnlySpan<byte> Status { get; } = status;
        public bool HasTime { get; } = hasTime;
        public ReadOnlySpan<byte> Time { get; } = time;
    }

    /// <summary>The entries of a row's index, in order.</summary>
    public ref struct Entries(ReadOnlySpan<byte> index)
    {
        private ReadOnlySpan<byte> _rest = index;

        public Entry Current { get; private set; }

        public readonly Entries GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_rest.IsEmpty) return false;
            var ns = Text(out _);
            var segment = Text(out _);
            var status = Text(out bool hasStatus, plusOne: true);
            var time = Text(out bool hasTime, plusOne: true);
            Current = new Entry(ns, segment, hasStatus, status, hasTime, time);
            return true;
        }

        private ReadOnlySpan<byte> Text(out bool has, bool plusOne = false)
        {
            if (_rest.Length < 2) throw Corrupt();
            int length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
            has = !plusOne || length > 0;
            if (plusOne && length > 0) length--;
            if (_rest.Length < 2 + length) throw Corrupt();
            var text = _rest.Slice(2, length);
            _rest = _rest[(2 + length)..];
            return text;
        }

        private static InvalidDataException Corrupt() => new($"A value of column {FragmentColumns.Memberships} of a fragment file is cut short.");
    }
}
