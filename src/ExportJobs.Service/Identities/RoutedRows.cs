using System.Buffers;
using System.Text;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A route's rows until they are written, each keyed by its graph's primary: held as bytes in a pooled stream per
/// partition, at most <paramref name="bytesHeld"/> over all partitions, beyond which they are spilled to a local file
/// per partition; made rows again one partition at a time when written (<see cref="TakeAll"/>), in chunks of at most
/// <paramref name="bytesHeld"/>. Held as objects, a route's 8 MB of records were tens of thousands of them living
/// through collections, and the route spent a third of its time in the GC; written as a sorted run each time 8 MB
/// were held, a route left 4 runs for every export stage to open at 1,000,000 people, where it now leaves one
/// (docs/performance.md).
/// </summary>
internal sealed class RoutedRows(long bytesHeld) : IDisposable
{
    private readonly SortedDictionary<int, PooledRows> _partitions = [];
    /// <summary>Each partition's spilled rows: a local file, deleted when closed, and how many rows it holds.</summary>
    private readonly SortedDictionary<int, (FileStream File, int Count)> _spilled = [];

    /// <summary>
    /// The texts rows share — namespaces, dataset and batch ids, member names — each written once and then by its
    /// number, so a row read back makes no string of them: at most <see cref="FewLimit"/>, as hostile data may name any
    /// number of members; a text beyond that is written in every row.
    /// </summary>
    private readonly Dictionary<string, int> _numbers = new(StringComparer.Ordinal);
    private readonly List<string> _texts = [];
    private readonly List<MemberName?> _names = [];
    private const int FewLimit = 4096;

    /// <summary>The bytes held in memory, over all partitions.</summary>
    public long Bytes { get; private set; }

    /// <summary>Holds <paramref name="row"/> for <paramref name="partition"/>, keyed by <paramref name="primary"/> instead of its own identity.</summary>
    public void Add(int partition, Identity primary, FragmentRow row)
    {
        if (!_partitions.TryGetValue(partition, out var held)) _partitions[partition] = held = new PooledRows();
        long before = held.Bytes.Length;
        var writer = held.Writer;
        WriteFew(writer, primary.Namespace);
        writer.Write(primary.Id);
        writer.Write(row.IngestTimeMs);
        WriteFew(writer, row.DatasetId);
        WriteFew(writer, row.BatchId);
        writer.Write(row.Sequence);
        var record = row.Record;
        writer.Write(record.IsWhole);
        if (record.IsWhole)
        {
            var json = record.ToJson().Span;
            writer.Write(json.Length);
            writer.Write(json);
        }
        else
        {
            // Names and lengths first, then the values' bytes together: read back as one slice of a slab, the record's text.
            var members = record.Members;
            writer.Write(members.Count);
            for (int i = 0; i < members.Count; i++)
            {
                WriteFew(writer, members[i].Name.Text);
                writer.Write(members[i].Value.Length);
            }
            for (int i = 0; i < members.Count; i++) writer.Write(members[i].Value.Span);
        }
        held.Count++;
        Bytes += held.Bytes.Length - before;
        if (Bytes >= bytesHeld) Spill();
    }

    /// <summary>A shared text: its number plus one, or 0 and the text itself once <see cref="FewLimit"/> are numbered.</summary>
    private void WriteFew(BinaryWriter writer, string text)
    {
        if (!_numbers.TryGetValue(text, out int number))
        {
            if (_texts.Count == FewLimit)
            {
                writer.Write7BitEncodedInt(0);
                writer.Write(text);
                return;
            }
            _numbers[text] = number = _texts.Count;
            _texts.Add(text);
            _names.Add(null);
        }
        writer.Write7BitEncodedInt(number + 1);
    }

    private string ReadFew(BinaryReader reader) => reader.Read7BitEncodedInt() is var number and > 0 ? _texts[number - 1] : reader.ReadString();

    private MemberName ReadName(BinaryReader reader) =>
        reader.Read7BitEncodedInt() is var number and > 0 ? _names[number - 1] ??= MemberName.Of(_texts[number - 1]) : MemberName.Of(reader.ReadString());

    /// <summary>Appends each partition's rows held in memory to its local file, and lets their memory go.</summary>
    private void Spill()
    {
        foreach (var (partition, held) in _partitions)
        {
            var (file, count) = _spilled.TryGetValue(partition, out var spilled)
                ? spilled
                : (ScratchFiles.Create(), 0);
            held.Bytes.Position = 0;
            held.Bytes.CopyTo(file);
            _spilled[partition] = (file, count + held.Count);
            held.Dispose();
        }
        _partitions.Clear();
        Bytes = 0;
    }

    /// <summary>
    /// Each partition's rows in the order they were added, partitions in order, in chunks of at most the bytes held (a
    /// row beyond that starts the next chunk); a partition's bytes, in memory and spilled, are let go once its rows are
    /// made. A chunk's records are valid until the next chunk is asked for: their texts are in pooled slabs.
    /// </summary>
    public IEnumerable<(int Partition, List<FragmentRow> Rows)> TakeAll()
    {
        using var slabs = new Slabs();
        foreach (int partition in _partitions.Keys.Union(_spilled.Keys).Order().ToList())
        {
            var chunk = new List<FragmentRow>();
            long chunkBytes = 0;
            var sources = new List<(Stream Bytes, int Count)>();
            if (_spilled.Remove(partition, out var spilled)) sources.Add(spilled);
            if (_partitions.Remove(partition, out var held))
            {
                sources.Add((held.Bytes, held.Count));
                Bytes -= held.Bytes.Length;
            }
            try
            {
                foreach (var (bytes, count) in sources)
                {
                    bytes.Position = 0;
                    using var reader = new BinaryReader(bytes, Encoding.UTF8, leaveOpen: true);
                    for (int i = 0; i < count; i++)
                    {
                        long start = bytes.Position;
                        chunk.Add(ReadRow(reader, slabs));
                        chunkBytes += bytes.Position - start;
                        if (chunkBytes < bytesHeld) continue;
                        yield return (partition, chunk);
                        slabs.Release();
                        (chunk, chunkBytes) = ([], 0);
                    }
                }
            }
            finally
            {
                spilled.File?.Dispose();
                held?.Dispose();
            }
            if (chunk.Count > 0) yield return (partition, chunk);
            slabs.Release();
        }
    }

    private FragmentRow ReadRow(BinaryReader reader, Slabs slabs)
    {
        string ns = ReadFew(reader), id = reader.ReadString();
        long ingestTime = reader.ReadInt64();
        string dataset = ReadFew(reader), batch = ReadFew(reader);
        long sequence = reader.ReadInt64();
        StoredRecord record;
        if (reader.ReadBoolean()) record = StoredRecord.OfWhole(ReadText(reader, slabs, reader.ReadInt32()));
        else
        {
            var members = new Member[reader.ReadInt32()];
            if (_lengths.Length < members.Length) _lengths = new int[members.Length];
            int total = 0;
            for (int i = 0; i < members.Length; i++)
            {
                members[i] = new Member(ReadName(reader), default);
                total += _lengths[i] = reader.ReadInt32();
            }
            var text = ReadText(reader, slabs, total);
            for (int i = 0, at = 0; i < members.Length; at += _lengths[i], i++) members[i] = members[i] with { Value = text.Slice(at, _lengths[i]) };
            record = StoredRecord.OfMembers(members);
        }
        return new FragmentRow(ns, id, ingestTime, dataset, batch, record, sequence);
    }

    /// <summary>A row's member lengths, read before its text.</summary>
    private int[] _lengths = new int[16];

    private static ReadOnlyMemory<byte> ReadText(BinaryReader reader, Slabs slabs, int length)
    {
        var text = slabs.Take(length);
        reader.BaseStream.ReadExactly(text.Span);
        return text;
    }

    /// <summary>
    /// The record texts of a chunk of rows, cut from slabs rented from the shared pool and given back (released) once the
    /// chunk is written: as an array each, a route's texts were its largest allocations after Parquet.Net's (225 MB in
    /// 8 s of a route at N = 1,000,000), and a chunk's live through collections until it is written.
    /// </summary>
    private sealed class Slabs : IDisposable
    {
        private const int SlabBytes = 64 * 1024;
        private readonly List<byte[]> _rented = [];
        private byte[] _current = [];
        private int _used;

        public Memory<byte> Take(int length)
        {
            // A long text has an array of its own, so a slab is never mostly left unused.
            if (length > SlabBytes / 4) return new byte[length];
            if (_current.Length - _used < length)
            {
                _rented.Add(_current = ArrayPool<byte>.Shared.Rent(SlabBytes));
                _used = 0;
            }
            var taken = _current.AsMemory(_used, length);
            _used += length;
            return taken;
        }

        /// <summary>Gives every slab back: the texts cut from them are no longer to be read.</summary>
        public void Release()
        {
            foreach (var slab in _rented) ArrayPool<byte>.Shared.Return(slab);
            _rented.Clear();
            (_current, _used) = ([], 0);
        }

        public void Dispose() => Release();
    }

    public void Dispose()
    {
        foreach (var held in _partitions.Values) held.Dispose();
        foreach (var (file, _) in _spilled.Values) file.Dispose();
        _partitions.Clear();
        _spilled.Clear();
    }
}
