using Parquet;

namespace ExportJobs.Service.Storage;

/// <summary>How every Parquet file of the service is written (fragment files and export parts).</summary>
internal static class ParquetWriting
{
    /// <summary>
    /// A string column is dictionary-encoded only when its first 100 values are repetitive enough, instead of after a
    /// scan of the whole column (Parquet.Net's default): ids and names are not, namespaces and dataset ids are.
    /// </summary>
    public static readonly ParquetOptions Options = new() { DictionaryEncodingSampleSize = 100 };
}
