using System.Text;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Tests;

/// <summary>A route's rows held as bytes come back as they were added, keyed by their primary, a partition at a time.</summary>
public class RoutedRowsTests
{
    [Fact]
    public void Rows_come_back_by_partition_in_the_order_added_keyed_by_their_primary_with_every_field_and_member()
    {
        var rows = new (int Partition, Identity Primary, FragmentRow Row)[]
        {
            (3, new("CRMID", "x"), new FragmentRow("ECID", "c1", 1_000, "web", "b1", StoredRecord.Split("""{"a":1,"é\"name":{"deep":[true,null]},"z":"ü"}"""u8.ToArray()), 7)),
            (1, new("Email", "y@example.com"), new FragmentRow("ECID", "c2", 2_000, "web", "b2", StoredRecord.OfWhole("""[1,2]"""u8.ToArray()), 0)),
            (3, new("CRMID", "w"), new FragmentRow("ECID", "c3", 3_000, "crm", "b1", StoredRecord.Split("{}"u8.ToArray()), 2)),
            (1, new("CRMID", "v"), new FragmentRow("ECID", "c4", 4_000, "web", "b3", StoredRecord.Split("""{"only":"one"}"""u8.ToArray()), 9)),
        };
        using var held = new RoutedRows(bytesHeld: 1024 * 1024);
        foreach (var (partition, primary, row) in rows) held.Add(partition, primary, row);
        Assert.True(held.Bytes > 0);

        var taken = Taken(held);

        Assert.Equal([1, 3], taken.Select(t => t.Partition));
        foreach (var (partition, back) in taken)
        {
            var added = rows.Where(r => r.Partition == partition).ToList();
            Assert.Equal(added.Count, back.Count);
            for (int i = 0; i < added.Count; i++)
            {
                var (expected, primary, actual) = (added[i].Row, added[i].Primary, back[i]);
                Assert.Equal(Row.Of(expected) with { Ns = primary.Namespace, Id = primary.Id }, actual);
            }
        }
        Assert.Equal(0, held.Bytes);
        Assert.Empty(held.TakeAll());
    }

    [Fact]
    public void Rows_beyond_the_bytes_held_are_spilled_and_come_back_in_order_in_chunks_of_at_most_those_bytes()
    {
        const long BytesHeld = 2_000;
        var rows = Enumerable.Range(0, 300).Select(i => (Partition: i % 3 == 0 ? 0 : 2,
            Row: new FragmentRow("ECID", $"c{i:D4}", i, "web", "b1", StoredRecord.Split(Encoding.UTF8.GetBytes($$"""{"n":{{i}},"pad":"{{new string('x', i % 40)}}"}""")), i))).ToList();
        using var held = new RoutedRows(BytesHeld);
        foreach (var (partition, row) in rows)
        {
            held.Add(partition, new Identity("CRMID", $"p{partition}"), row);
            Assert.True(held.Bytes < BytesHeld);
        }

        var taken = Taken(held);

        Assert.Equal([0, 2], taken.Select(t => t.Partition).Distinct());
        Assert.True(taken.Count(t => t.Partition == 2) > 1);
        foreach (var partition in new[] { 0, 2 })
            Assert.Equal(rows.Where(r => r.Partition == partition).Select(r => Encoding.UTF8.GetString(r.Row.Record.ToJson().Span)),
                taken.Where(t => t.Partition == partition).SelectMany(t => t.Rows).Select(r => r.Json));
        // A chunk ends with the row that reaches the bytes held: less than that before its last row.
        Assert.All(taken, t => Assert.True(t.Rows.SkipLast(1).Sum(r => Encoding.UTF8.GetByteCount(r.Json)) < BytesHeld));
        Assert.Equal(0, held.Bytes);
        Assert.Empty(held.TakeAll());
    }

    [Fact]
    public void Shared_texts_come_back_as_they_were_written_beyond_the_texts_numbered()
    {
        // More distinct batch ids and member names than a route numbers (4,096): the later ones are written in full.
        var rows = Enumerable.Range(0, 5_000).Select(i => new FragmentRow("ECID", $"c{i:D5}", i, $"dataset{i % 3}", $"batch{i}",
            StoredRecord.Split(Encoding.UTF8.GetBytes($$"""{"shared":{{i}},"own{{i}}":true}""")), i)).ToList();
        using var held = new RoutedRows(bytesHeld: 64 * 1024);
        foreach (var row in rows) held.Add(0, new Identity($"NS{row.Sequence % 2}", "p"), row);

        var back = Taken(held).SelectMany(t => t.Rows).ToList();

        Assert.Equal(rows.Count, back.Count);
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Row.Of(rows[i]) with { Ns = $"NS{i % 2}", Id = "p" }, back[i]);
    }

    /// <summary>The chunks' rows as they were when each chunk was taken: a chunk's record texts go back to a pool when the next is asked for.</summary>
    private static List<(int Partition, List<Row> Rows)> Taken(RoutedRows held) => [.. held.TakeAll().Select(t => (t.Partition, t.Rows.Select(Row.Of).ToList()))];

    private sealed record Row(string Ns, string Id, long IngestTimeMs, string DatasetId, string BatchId, long Sequence, bool IsWhole, string Json, string Names)
    {
        public static Row Of(FragmentRow row) => new(row.IdentityNamespace, row.IdentityId, row.IngestTimeMs, row.DatasetId, row.BatchId, row.Sequence,
            row.Record.IsWhole, Encoding.UTF8.GetString(row.Record.ToJson().Span), string.Join('|', row.Record.Members.Select(m => m.Name.Text)));
    }
}
