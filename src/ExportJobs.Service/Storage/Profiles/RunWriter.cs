using System.Globalization;
using Azure.Storage.Blobs;
using ExportJobs.Service.Storage.Output;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Writes the rows of one compaction, in identity order, as a run of part files <c>{run}.{part:D5}.parquet</c> of at
/// most <see cref="PartRows"/> rows each, each through a local file (a run can be larger than a shard's share of
/// memory). The run becomes whole when <see cref="CompleteAsync"/> sets the metadata of its last part; until then a
/// read leaves its parts out (see <see cref="ProfileStore"/>). Every part has a column for each of <c>members</c>, and,
/// with <c>typedLeaves</c>, the leaves <c>declared</c> (those of the runs it merges) and those its first rows hold; its
/// local file becomes the host's copy of it once uploaded.
/// </summary>
internal sealed class RunWriter(BlobContainerClient container, string run, IReadOnlyList<MemberName> members, Func<CancellationToken, Task> afterPart,
    FragmentFileCache cache, bool typedLeaves, IReadOnlyDictionary<string, IReadOnlyList<LeafPath>>? declared) : IAsyncDisposable
{
    /// <summary>
    /// 64,000 rows (64 row groups): a read holds the footer of one part per run,
    /// so it stays bounded whatever the shard holds, and each part costs a request for its footer (parts of 4,000 rows
    /// doubled the requests of an export at N = 1,000,000 and made it 40 % slower).
    /// </summary>
    public const int PartRows = 64 * FragmentColumns.RowGroupSize;

    private readonly string _path = Path.Combine(Path.GetTempPath(), $"exportjobs-{Guid.NewGuid():N}.parquet");
    private readonly List<FileSection> _parts = [];
    private FileStream? _output;
    private FragmentFileWriter? _writer;
    private int _rows;

    /// <summary>Metadata of a run's last part: how many parts the run has.</summary>
    public const string PartsKey = "parts";

    private static string PartName(string run, int part) => $"{run}.{part.ToString("D5", CultureInfo.InvariantCulture)}.parquet";

    /// <summary>The run a file belongs to: a part <c>{run}.{part:D5}.parquet</c> to <c>{run}</c>; any other file is a run of its own.</summary>
    public static string RunOf(string file)
    {
        const int PartSuffix = 14; // ".00000.parquet"
        return file.Length > PartSuffix && file.EndsWith(".parquet", StringComparison.Ordinal) && file[^PartSuffix] == '.' &&
               file.AsSpan(file.Length - PartSuffix + 1, 5).IndexOfAnyExceptInRange('0', '9') < 0
            ? file[..^PartSuffix]
            : file;
    }

    public async Task AddAsync(FragmentRow row, CancellationToken ct)
    {
        if (_writer is null) StartPart();
        await _writer!.AddAsync(row, ct);
        if (++_rows == PartRows) await EndPartAsync(ct);
    }

    private void StartPart()
    {
        _output = File.Create(_path);
        _writer = FragmentFileWriter.Create(_output, members, typedLeaves: typedLeaves, declared: declared);
        _rows = 0;
    }

    private async Task EndPartAsync(CancellationToken ct)
    {
        await CloseAsync();
        string name = PartName(run, _parts.Count);
        var blob = container.GetBlobClient(name);
        long length = new FileInfo(_path).Length;
        var written = await blob.UploadAsync(_path, ct);
        _parts.Add(new FileSection(name, 0, length, written.Value.ETag));
        cache.Add(blob, written.Value.ETag, _path);
        await afterPart(ct);
    }

    private async Task CloseAsync()
    {
        if (_writer is not null) await _writer.DisposeAsync();
        if (_output is not null) await _output.DisposeAsync();
        (_writer, _output) = (null, null);
    }

    /// <summary>
    /// Writes the last part (an empty one when the run has no row), then sets <paramref name="metadata"/> and the count
    /// of parts on it, which makes the run whole; returns the parts and when the run was completed.
    /// </summary>
    public async Task<(IReadOnlyList<FileSection> Parts, DateTimeOffset Completed)> CompleteAsync(
        IReadOnlyDictionary<string, string> metadata, CancellationToken ct)
    {
        if (_writer is not null || _parts.Count == 0)
        {
            if (_writer is null) StartPart();
            await EndPartAsync(ct);
        }
        var last = new Dictionary<string, string>(metadata) { [PartsKey] = _parts.Count.ToString(CultureInfo.InvariantCulture) };
        var blob = container.GetBlobClient(_parts[^1].Name);
        var info = await blob.SetMetadataAsync(last, cancellationToken: ct);
        cache.Renamed(blob, info.Value.ETag);
        _parts[^1] = _parts[^1] with { Version = info.Value.ETag };
        return (_parts, info.Value.LastModified);
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        File.Delete(_path);
    }
}
