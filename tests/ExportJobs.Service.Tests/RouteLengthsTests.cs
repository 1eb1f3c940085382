using ExportJobs.Service.Identities;

namespace ExportJobs.Service.Tests;

/// <summary>A route's mark: a partition finds each of its files in the route's blob where the files before it end.</summary>
public class RouteLengthsTests
{
    [Fact]
    public void A_partitions_files_lie_where_the_files_before_them_end()
    {
        var lengths = new RouteLengths();
        lengths.Add(0, 10);
        lengths.Add(2, 30);
        lengths.Add(2, 5);
        lengths.Add(3, 7);

        Assert.Equal([(0L, 10L)], lengths.Of(0));
        Assert.Empty(lengths.Of(1));
        Assert.Equal([(10L, 30L), (40L, 5L)], lengths.Of(2));
        Assert.Equal([(45L, 7L)], lengths.Of(3));
        Assert.Equal(new long[] { 10, 0, 35, 7 }, Enumerable.Range(0, 4).Select(lengths.BytesOf));
        Assert.Throws<ArgumentException>(() => lengths.Add(1, 4));
    }

    [Fact]
    public void A_mark_reads_back_as_written_and_one_naming_a_partition_out_of_range_is_refused()
    {
        var lengths = new RouteLengths();
        lengths.Add(0, 3);
        lengths.Add(1, 9);

        var read = RouteLengths.Reader(2)(Mark(lengths.ToArray()));
        Assert.Equal(lengths.ToArray(), read.ToArray());
        Assert.Equal([(3L, 9L)], read.Of(1));

        Assert.Throws<InvalidDataException>(() => RouteLengths.Reader(1)(Mark(lengths.ToArray())));
        Assert.Throws<InvalidDataException>(() => RouteLengths.Reader(2)(Mark([0, 3, 1])));
        Assert.Throws<InvalidDataException>(() => RouteLengths.Reader(2)(Mark([1, 3, 0, 9])));
    }

    private static BinaryReader Mark(long[] values)
    {
        var bytes = new MemoryStream();
        using (var writer = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (long value in values) writer.Write(value);
        bytes.Position = 0;
        return new BinaryReader(bytes);
    }
}
