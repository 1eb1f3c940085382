using System.Buffers;
using System.Text;
using System.Text.Json;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A graph's identities as its build keeps them (<see cref="GraphRow"/>) and an export's table holds them: the place of
/// the primary among them, then the identities by namespace (namespaces in the order of their first identity), each
/// namespace's name once, then its ids; counts as <see cref="BinaryWriter.Write7BitEncodedInt(int)"/> writes them, texts
/// as <see cref="BinaryWriter.Write(string)"/> does (UTF-8, its byte count first), read back in place. An export writes a profile's <c>identityMap</c> record from them (<see cref="Records"/>); as that record's
/// JSON, the largest part of a <c>pdg</c> export stage's tables, they were about twice the bytes (a build's graph files
/// at N = 1,000,000: 139 MB as JSON, 74 MB in this form).
/// </summary>
public static class GraphIdentities
{
    /// <summary>The graph's identities in this form.</summary>
    public static byte[] Encode(IdentityGraph graph)
    {
        using var buffer = new MemoryStream(16 + 24 * graph.Identities.Count);
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) Encode(graph.Primary, graph.Identities, writer);
        return buffer.ToArray();
    }

    private static void Encode(Identity primary, IReadOnlyList<Identity> identities, BinaryWriter writer)
    {
        if (identities.Count == 1)
        {
            // A profile of one identity, as an export writes one for each identity without a graph.
            writer.Write7BitEncodedInt(0);
            writer.Write7BitEncodedInt(1);
            writer.Write(primary.Namespace);
            writer.Write7BitEncodedInt(1);
            writer.Write(primary.Id);
            return;
        }
        var groups = identities.GroupBy(identity => identity.Namespace).ToList();
        writer.Write7BitEncodedInt(groups.SelectMany(group => group).TakeWhile(identity => identity != primary).Count());
        writer.Write7BitEncodedInt(groups.Count);
        foreach (var group in groups)
        {
            writer.Write(group.Key);
            writer.Write7BitEncodedInt(group.Count());
            foreach (var identity in group) writer.Write(identity.Id);
        }
    }

    /// <summary>Writes the <c>identityMap</c> record of identities in this form: every identity by namespace, the primary marked.</summary>
    public static void WriteRecord(ReadOnlySpan<byte> encoded, Utf8JsonWriter writer)
    {
        int at = 0;
        int primary = ReadCount(encoded, ref at);
        int groups = ReadCount(encoded, ref at);
        writer.WriteStartObject();
        writer.WriteStartObject(IdentityMap.Member);
        for (int group = 0, place = 0; group < groups; group++)
        {
            writer.WriteStartArray(ReadText(encoded, ref at));
            for (int ids = ReadCount(encoded, ref at); ids > 0; ids--, place++)
            {
                writer.WriteStartObject();
                writer.WriteString("id"u8, ReadText(encoded, ref at));
                if (place == primary) writer.WriteBoolean("primary"u8, true);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>A count, 7 bits a byte, low bits first (as <see cref="BinaryReader.Read7BitEncodedInt"/> reads it, in place).</summary>
    private static int ReadCount(ReadOnlySpan<byte> encoded, ref int at)
    {
        int value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = encoded[at++];
            value |= (b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }

    /// <summary>A string's UTF-8, its byte length first.</summary>
    private static ReadOnlySpan<byte> ReadText(ReadOnlySpan<byte> encoded, ref int at)
    {
        int length = ReadCount(encoded, ref at);
        var text = encoded.Slice(at, length);
        at += length;
        return text;
    }

    /// <summary>
    /// The <c>identityMap</c> records of one read's profiles, each written into one buffer and parsed in place: a
    /// record is valid until the next is asked for.
    /// </summary>
    public sealed class Records(IdentityTable graphs) : IDisposable
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(1024);
        private readonly BinaryWriter _alone = new(new MemoryStream(256), Encoding.UTF8);
        private readonly Utf8JsonWriter _writer = new(Stream.Null);

        /// <summary>The record of the graph of <paramref name="primary"/> (of itself alone when it has none), as a pooled document the caller disposes.</summary>
        public JsonDocument Of(Identity primary)
        {
            if (!graphs.TryGetValue(primary.Namespace, primary.Id, out var encoded))
            {
                var alone = (MemoryStream)_alone.BaseStream;
                alone.SetLength(0);
                Encode(primary, [primary], _alone);
                encoded = alone.GetBuffer().AsMemory(0, (int)alone.Length);
            }
            _buffer.ResetWrittenCount();
            _writer.Reset(_buffer);
            WriteRecord(encoded.Span, _writer);
            _writer.Flush();
            return JsonDocument.Parse(_buffer.WrittenMemory);
        }

        public void Dispose()
        {
            _writer.Dispose();
            _alone.Dispose();
        }
    }
}
