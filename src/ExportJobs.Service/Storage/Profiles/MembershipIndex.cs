using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using ExportJobs.Core;
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
/// namespace and segment id (UTF-8 as the record holds them, none escaped, each after its length as a 16-bit integer),
/// status (a byte for the three the platform defines, else its text) and time (the instant, or that it is not one).
/// </summary>
internal static class MembershipIndex
{
    public const int MaxText = 1024, MaxEntries = 512;

    /// <summary>The member the index stands for.</summary>
    public static readonly MemberName Member = MemberName.Of(ExportSelection.SegmentMembership);

    /// <summary>Writes the index of a record's value into <paramref name="into"/>; false (and what was written is to be dropped) when it does not describe it.</summary>
    public static bool TryWrite(StoredRecord record, ArrayBufferWriter<byte> into)
    {
        if (record.IsWhole) return false;
        return record.ValueOf(Member) is not { } membership || TryWrite(membership.Span, into);
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
            if (!TryText(ref reader, out var ns) || !Distinct(namespaces, ns) || !reader.Read()) return false;
            if (reader.TokenType == JsonTokenType.Null) continue;
            if (reader.TokenType != JsonTokenType.StartObject) return false;
            segments.Clear();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (!TryText(ref reader, out var segment) || !Distinct(segments, segment) || !reader.Read()) return false;
                if (reader.TokenType == JsonTokenType.Null) continue;
                if (reader.TokenType != JsonTokenType.StartObject) return false;
                scoped ReadOnlySpan<byte> status = default;
                bool seenStatus = false, seenTime = false, hasStatus = false, hasTime = false;
                DateTimeOffset? time = null;
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
                    else if (Rfc3339.TryParse(ref reader, out var instant)) time = instant;
                    hasStatus |= isStatus;
                    hasTime |= isTime;
                }
                if (!hasStatus && !hasTime) continue;
                if (++entries > MaxEntries) return false;
                WriteText(into, ns);
                WriteText(into, segment);
                WriteStatus(into, hasStatus, status);
                WriteTime(into, hasTime, time);
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

    /// <summary>
    /// Whether <paramref name="name"/> is not one of <paramref name="seen"/> (by a 64-bit hash: two names that collide
    /// count as one given twice, so the record is left to the member, which is always right); adds it.
    /// </summary>
    private static bool Distinct(HashSet<ulong> seen, ReadOnlySpan<byte> name) => seen.Count < MaxEntries && seen.Add(XxHash3.HashToUInt64(name));

    /// <summary>The names of the levels being indexed, on this thread.</summary>
    [ThreadStatic] private static HashSet<ulong>? NamespacesSeen, SegmentsSeen;

    private static void WriteText(ArrayBufferWriter<byte> into, ReadOnlySpan<byte> text)
    {
        var span = into.GetSpan(2 + text.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)text.Length);
        text.CopyTo(span[2..]);
        into.Advance(2 + text.Length);
    }

    /// <summary>The statuses a byte stands for (1, 2, 3); 0: none; <see cref="OtherStatus"/>: its text follows.</summary>
    private static readonly byte[][] KnownStatuses = [[], .. new[] { "realized", "existing", "exited" }.Select(Encoding.UTF8.GetBytes)];
    private const byte OtherStatus = 4;

    private static void WriteStatus(ArrayBufferWriter<byte> into, bool has, ReadOnlySpan<byte> status)
    {
        int known = has ? -1 : 0;
        for (int k = 1; k < KnownStatuses.Length && known < 0; k++)
            if (status.SequenceEqual(KnownStatuses[k])) known = k;
        into.Write([(byte)(known >= 0 ? known : OtherStatus)]);
        if (known < 0) WriteText(into, status);
    }

    /// <summary>The qualification time: 0, none; <see cref="Instant"/>, a date-time (its UTC ticks follow); <see cref="NotAnInstant"/>, a string that is not one.</summary>
    private const byte Instant = 1, NotAnInstant = 2;

    private static void WriteTime(ArrayBufferWriter<byte> into, bool has, DateTimeOffset? time)
    {
        into.Write([(byte)(!has ? 0 : time is null ? NotAnInstant : Instant)]);
        if (time is { } instant) BinaryPrimitives.WriteInt64LittleEndian(into.GetSpan(8), instant.UtcTicks);
        if (time is not null) into.Advance(8);
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
            if (entry.HasStatus) WriteMember(json, StatusName, entry.Status);
            if (entry.HasStatus && entry.HasTime) json.Write(","u8);
            if (entry.HasTime)
                WriteMember(json, TimeName, entry.Time is { } time ? Encoding.UTF8.GetBytes(time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)) : []);
            json.Write("}"u8);
            ns = entry.Namespace;
            first = false;
        }
        json.Write(first ? "}"u8 : "}}"u8);
        return json.WrittenSpan.ToArray();
    }

    /// <summary>The names of an entry's status and time as <see cref="ToJson"/> writes them, with their quotes, the colon and the value's quote.</summary>
    private static readonly byte[] StatusName = Encoding.UTF8.GetBytes($"\"{ExportSelection.StatusMember}\":\""),
        TimeName = Encoding.UTF8.GetBytes($"\"{ExportSelection.QualificationTimeMember}\":\"");

    private static void WriteMember(ArrayBufferWriter<byte> json, ReadOnlySpan<byte> name, ReadOnlySpan<byte> text)
    {
        json.Write(name);
        json.Write(text);
        json.Write("\""u8);
    }

    /// <summary>One entry of a row's index: a status or time it does not hold is <c>Has…</c> false; its time null when it is not a date-time.</summary>
    public readonly ref struct Entry(ReadOnlySpan<byte> ns, ReadOnlySpan<byte> segment, bool hasStatus, ReadOnlySpan<byte> status, bool hasTime, DateTimeOffset? time)
    {
        public ReadOnlySpan<byte> Namespace { get; } = ns;
        public ReadOnlySpan<byte> Segment { get; } = segment;
        public bool HasStatus { get; } = hasStatus;
        public ReadOnlySpan<byte> Status { get; } = status;
        public bool HasTime { get; } = hasTime;
        public DateTimeOffset? Time { get; } = time;
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
            var ns = Text();
            var segment = Text();
            byte status = Byte();
            var statusText = status == OtherStatus ? Text() : status < OtherStatus ? KnownStatuses[status] : throw Corrupt();
            byte time = Byte();
            DateTimeOffset? instant = time == Instant ? new DateTimeOffset(Take(8) is var ticks ? BinaryPrimitives.ReadInt64LittleEndian(ticks) : 0, TimeSpan.Zero)
                : time <= NotAnInstant ? null : throw Corrupt();
            Current = new Entry(ns, segment, status != 0, statusText, time != 0, instant);
            return true;
        }

        private ReadOnlySpan<byte> Text() => Take(BinaryPrimitives.ReadUInt16LittleEndian(Take(2)));

        private byte Byte() => Take(1)[0];

        private ReadOnlySpan<byte> Take(int length)
        {
            if (_rest.Length < length) throw Corrupt();
            var taken = _rest[..length];
            _rest = _rest[length..];
            return taken;
        }

        private static InvalidDataException Corrupt() => new($"A value of column {FragmentColumns.Memberships} of a fragment file is not a memberships index.");
    }
}
