using ExportJobs.Service.Identities;

namespace ExportJobs.Service.Tests;

/// <summary>A route's mark: each partition finds its file in each run where the files of the partitions before it end.</summary>
public class RouteLengthsTests
{
    [Fact]
    public void A_partitions_files_lie_after_the_earlier_partitions_files_of_each_run_and_runs_without_one_are_skipped()
    {
        var lengths = new RouteLengths(partitions: 3);
        lengths.Add([10, 0, 30]);
        lengths.Add([0, 7, 5]);

        Assert.Equal(2, lengths.Runs);
        Assert.Equal([(0, 0L, 10L)], lengths.Of(0));
        Assert.Equal([(1, 0L, 7L)], lengths.Of(1));
        Assert.Equal([(0, 10L, 30L), (1, 7L, 5L)], lengths.Of(2));
        Assert.Equal([10L, 7, 35], Enumerable.Range(0, 3).Select(lengths.BytesOf));
    }

    [Fact]
    public void A_mark_reads_back_as_written_and_one_of_another_partition_count_is_refused()
    {
        var lengths = new RouteLengths(partitions: 2);
        lengths.Add([3, 4]);
        lengths.Add([0, 9]);
        using var bytes = new MemoryStream();
        using (var writer = new BinaryWriter(bytes, System.Text.Encoding.UTF8, leaveOpen: true))
            foreach (long length in lengths.ToArray()) writer.Write(length);

        bytes.Position = 0;
        var read = RouteLengths.Reader(2)(new BinaryReader(bytes));
        Assert.Equal(lengths.ToArray(), read.ToArray());
        Assert.Equal([(1, 0L, 9L)], read.Of(1).Skip(1));

        bytes.Position = 0;
        Assert.Throws<InvalidDataException>(() => RouteLengths.Reader(3)(new BinaryReader(bytes)));
        Assert.Throws<ArgumentException>(() => lengths.Add([1]));
    }
}
