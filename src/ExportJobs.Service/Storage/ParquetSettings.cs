using System.IO.Compression;
using Parquet;

namespace ExportJobs.Service.Storage;

/// <summary>How the service's Parquet files are written and read: export parts (<see cref="Options"/>) and fragment files (<see cref="Fragments"/>).</summary>
internal static class ParquetSettings
{
    /// <summary>Export parts, which anyone's reader opens, are compressed with Snappy, the codec every Parquet reader has.</summary>
    public static readonly ParquetOptions Options = Compressed(CompressionMethod.Snappy);

    /// <summary>
    /// Fragment files, which only the service reads, are compressed with Zstandard: the benchmark's are 43 % smaller
    /// than with Snappy, for a few percent more of a read's CPU, and every read fetches, checks and copies their bytes
    /// from storage (docs/performance.md, "Zstandard fragment files"). A file names its codec per column chunk, so
    /// files of earlier builds (Snappy) read as before.
    /// </summary>
    public static readonly ParquetOptions Fragments = Compressed(CompressionMethod.Zstd);

    /// <summary>
    /// A string column is dictionary-encoded only when its first 100 values are repetitive enough, instead of after a
    /// scan of the whole column (Parquet.Net's default): ids and names are not, namespaces and dataset ids are.
    /// Parquet.Net pools the buffers of its column readers and writers, and by default keeps up to 16 MB of small and
    /// 64 MB of large ones free in each, which a long run fills: a few MB each is what one shard's row groups need.
    /// </summary>
    private static ParquetOptions Compressed(CompressionMethod method) => new()
    {
        CompressionMethod = method,
        CompressionLevel = CompressionLevel.Fastest,
        DictionaryEncodingSampleSize = 100,
        MaximumSmallPoolFreeBytes = 4 * 1024 * 1024,
        MaximumLargePoolFreeBytes = 8 * 1024 * 1024,
    };
}
