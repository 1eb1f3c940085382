using System.Text;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A route's rows until they are written, each keyed by its graph's primary: held as bytes in a pooled stream per
/// partition, and made rows again one partition at a time when written (<see cref="TakeAll"/>). Held as objects, a
/// route's 8 MB of records were tens of thousands of them living through collections, and the route spent a third of
/// its time in the GC (docs/performance.md).
/// </summary>
internal sealed class RoutedRows : IDisposable
{
    private readonly SortedDictionary<int, PooledRows> _partitions = [];

    /// <summary>The bytes held, over all partitions.</summary>
    public long Bytes { get; private set; }

    /// <summary>Holds <paramref name="row"/> for <paramref name="partition"/>, keyed by <paramref name="primary"/> instead of its own identity.</summary>
    public void Add(int partition, Identity primary, FragmentRow row)
    {
        if (!_partitions.TryGetValue(partition, out var held)) _partitions[partition] = held = new PooledRows();
        long before = held.Bytes.Length;
        var writer = held.Writer;
        writer.Write(primary.Namespace);
        writer.Write(primary.Id);
        writer.Write(row.IngestTimeMs);
        writer.Write(row.DatasetId);
        writer.Write(row.BatchId);
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
            // Names and lengths first, then the values' bytes together: read back as one array, the record's text.
            writer.Write(record.Members.Count);
            foreach (var member in record.Members)
            {
                writer.Write(member.Name.Text);
                writer.Write(member.Value.Length);
            }
            foreach (var member in record.Members) writer.Write(member.Value.Span);
        }
        held.Count++;
        Bytes += held.Bytes.Length - before;
    }

    /// <summary>Each partition's rows in the order they were added, partitions in order; each partition's bytes are let go once its rows are made.</summary>
    public IEnumerable<(int Partition, List<FragmentRow> Rows)> TakeAll()
    {
        foreach (int partition in _partitions.Keys.ToList())
        {
            var held = _partitions[partition];
            _partitions.Remove(partition);
            var rows = new List<FragmentRow>(held.Count);
            held.Bytes.Position = 0;
            using (var reader = new BinaryReader(held.Bytes, Encoding.UTF8, leaveOpen: true))
                for (int i = 0; i < held.Count; i++) rows.Add(ReadRow(reader));
            Bytes -= held.Bytes.Length;
            held.Dispose();
            yield return (partition, rows);
        }
    }

    private static FragmentRow ReadRow(BinaryReader reader)
    {
        string ns = reader.ReadString(), id = reader.ReadString();
        long ingestTime = reader.ReadInt64();
        string dataset = reader.ReadString(), batch = reader.ReadString();
        long sequence = reader.ReadInt64();
        StoredRecord record;
        if (reader.ReadBoolean()) record = StoredRecord.OfWhole(reader.ReadBytes(reader.ReadInt32()));
        else
        {
            var members = new Member[reader.ReadInt32()];
            var lengths = new int[members.Length];
            for (int i = 0; i < members.Length; i++) (members[i], lengths[i]) = (new Member(MemberName.Of(reader.ReadString()), default), reader.ReadInt32());
            var text = reader.ReadBytes(lengths.Sum());
            for (int i = 0, at = 0; i < members.Length; at += lengths[i], i++) members[i] = members[i] with { Value = text.AsMemory(at, lengths[i]) };
            record = StoredRecord.OfMembers(members);
        }
        return new FragmentRow(ns, id, ingestTime, dataset, batch, record, sequence);
    }

    public void Dispose()
    {
        foreach (var held in _partitions.Values) held.Dispose();
        _partitions.Clear();
    }
}
