using Parquet;

namespace ExportJobs.Service.Storage;

/// <summary>How every Parquet file of the service is written and read (fragment files and export parts).</summary>
internal static class ParquetSettings
{
    /// <summary>
    /// A string column is dictionary-encoded only when its first 100 values are repetitive enough, instead of after a
    /// scan of the whole column (Parquet.Net's default): ids and names are not, namespaces and dataset ids are.
    /// Parquet.Net pools the buffers of its column readers and writers, and by default keeps up to 16 MB of small and
    /// 64 MB of large ones free in each, which a long run fills: a few MB each is what one shard's row groups need.
    /// </summary>
    public static readonly ParquetOptions Options = new()
    {
        DictionaryEncodingSampleSize = 100,
        MaximumSmallPoolFreeBytes = 4 * 1024 * 1024,
        MaximumLargePoolFreeBytes = 8 * 1024 * 1024,
    };
}
