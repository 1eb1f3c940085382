namespace ExportJobs.Service.Identities;

/// <summary>
/// What a shard's route wrote (<see cref="GraphShuffle"/>): for each of its runs, a blob holding a fragment file per
/// partition one after the other in partition order, the length of each partition's file (0: none), so a partition's
/// file in a run starts where the files of the partitions before it end. Kept as the route's mark: 64-bit lengths,
/// run by run.
/// </summary>
internal sealed class RouteLengths(int partitions)
{
    private readonly List<long> _lengths = [];

    public int Runs => _lengths.Count / partitions;

    /// <summary>Records the next run's files' lengths, by partition.</summary>
    public void Add(long[] lengths)
    {
        if (lengths.Length != partitions) throw new ArgumentException($"A run has a file length for each of {partitions} partitions, not {lengths.Length}.", nameof(lengths));
        _lengths.AddRange(lengths);
    }

    /// <summary>The bytes of a partition's files over all runs.</summary>
    public long BytesOf(int partition)
    {
        long bytes = 0;
        for (int run = 0; run < Runs; run++) bytes += _lengths[run * partitions + partition];
        return bytes;
    }

    /// <summary>A partition's file in each run that has one: the run, and where the file lies in it.</summary>
    public IEnumerable<(int Run, long Offset, long Length)> Of(int partition)
    {
        for (int run = 0; run < Runs; run++)
        {
            long offset = 0;
            for (int p = 0; p < partition; p++) offset += _lengths[run * partitions + p];
            long length = _lengths[run * partitions + partition];
            if (length > 0) yield return (run, offset, length);
        }
    }

    /// <summary>The lengths, run by run, as the mark holds them (<see cref="Longs"/>).</summary>
    public long[] ToArray() => [.. _lengths];

    /// <summary>Reads a mark of a route to <paramref name="partitions"/> partitions.</summary>
    public static Func<BinaryReader, RouteLengths> Reader(int partitions) => reader =>
    {
        var lengths = Longs.Read(reader);
        if (lengths.Length % partitions != 0)
            throw new InvalidDataException($"A route's mark of {lengths.Length} lengths does not hold whole runs of {partitions} partitions'.");
        var read = new RouteLengths(partitions);
        read._lengths.AddRange(lengths);
        return read;
    };
}
