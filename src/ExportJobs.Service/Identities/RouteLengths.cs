namespace ExportJobs.Service.Identities;

/// <summary>
/// What a shard's route wrote (<see cref="GraphShuffle"/>): one blob of sorted fragment files one after the other, in
/// partition order (a partition may have several, in the order their rows were read), and for each file its
/// partition and length, so a file starts where those before it end. Kept as the route's mark: a (partition, length)
/// pair of 64-bit values per file.
/// </summary>
internal sealed class RouteLengths
{
    private readonly List<(int Partition, long Length)> _files = [];

    public int Count => _files.Count;

    /// <summary>Records the next file of the blob: of <paramref name="partition"/>, no earlier than the last file's.</summary>
    public void Add(int partition, long length)
    {
        if (_files.Count > 0 && partition < _files[^1].Partition)
            throw new ArgumentException($"A route's files are in partition order: {partition} cannot follow {_files[^1].Partition}.", nameof(partition));
        _files.Add((partition, length));
    }

    /// <summary>The bytes of a partition's files.</summary>
    public long BytesOf(int partition) => _files.Where(f => f.Partition == partition).Sum(f => f.Length);

    /// <summary>Where each of a partition's files lies in the blob, in order.</summary>
    public IEnumerable<(long Offset, long Length)> Of(int partition)
    {
        long offset = 0;
        foreach (var (p, length) in _files)
        {
            if (p == partition) yield return (offset, length);
            offset += length;
        }
    }

    /// <summary>The files as the mark holds them (<see cref="Longs"/>).</summary>
    public long[] ToArray() => [.. _files.SelectMany(f => new[] { f.Partition, f.Length })];

    /// <summary>Reads a mark of a route to <paramref name="partitions"/> partitions.</summary>
    public static Func<BinaryReader, RouteLengths> Reader(int partitions) => reader =>
    {
        var values = Longs.Read(reader);
        if (values.Length % 2 != 0) throw new InvalidDataException($"A route's mark of {values.Length} values does not hold (partition, length) pairs.");
        var read = new RouteLengths();
        for (int i = 0; i < values.Length; i += 2)
        {
            if (values[i] < 0 || values[i] >= partitions || values[i + 1] <= 0 || (i > 0 && values[i] < values[i - 2]))
                throw new InvalidDataException($"A route's mark names a file of {values[i + 1]} bytes in partition {values[i]}: not a file, in partition order, of one of {partitions} partitions.");
            read.Add((int)values[i], values[i + 1]);
        }
        return read;
    };
}
