using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Datasets;

/// <summary>Reads the NDJSON lines of a batch for one dataset: a profile record or an event, and it must fit the dataset's schema.</summary>
public sealed class DatasetRecordReader(Dataset dataset)
{
    /// <summary>The schema records are checked against, system fields included; null when the dataset has none.</summary>
    public SchemaNode? Schema { get; } = dataset.RecordSchema();

    public bool TryRead(ReadOnlyMemory<byte> line, out Identity identity, out string? reason) =>
        ProfileRecordParser.TryRead(line, dataset.HoldsEvents, Schema, out identity, out reason);
}
