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
        using var held = new RoutedRows();
        foreach (var (partition, primary, row) in rows) held.Add(partition, primary, row);
        Assert.True(held.Bytes > 0);

        var taken = held.TakeAll().ToList();

        Assert.Equal([1, 3], taken.Select(t => t.Partition));
        foreach (var (partition, back) in taken)
        {
            var added = rows.Where(r => r.Partition == partition).ToList();
            Assert.Equal(added.Count, back.Count);
            for (int i = 0; i < added.Count; i++)
            {
                var (expected, primary, actual) = (added[i].Row, added[i].Primary, back[i]);
                Assert.Equal((primary.Namespace, primary.Id), (actual.IdentityNamespace, actual.IdentityId));
                Assert.Equal((expected.IngestTimeMs, expected.DatasetId, expected.BatchId, expected.Sequence), (actual.IngestTimeMs, actual.DatasetId, actual.BatchId, actual.Sequence));
                Assert.Equal(expected.Record.IsWhole, actual.Record.IsWhole);
                Assert.Equal(Encoding.UTF8.GetString(expected.Record.ToJson().Span), Encoding.UTF8.GetString(actual.Record.ToJson().Span));
                Assert.Equal(expected.Record.Members.Select(m => m.Name.Text), actual.Record.Members.Select(m => m.Name.Text));
            }
        }
        Assert.Equal(0, held.Bytes);
        Assert.Empty(held.TakeAll());
    }
}
