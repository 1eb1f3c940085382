using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Datasets;

/// <summary>Reads the NDJSON lines of a batch for one dataset: a profile record or an event, and it must fit the dataset's schema.</summary>
public sealed class DatasetRecordReader(Dataset dataset)
{
    private readonly SchemaNode? _schema = dataset.RecordSchema();

    public bool TryRead(ReadOnlySpan<byte> line, out JsonObject record, out Identity identity, out string? reason)
    {
        bool parsed = dataset.HoldsEvents
            ? ProfileRecordParser.TryParseEvent(line, out record, out identity, out reason)
            : ProfileRecordParser.TryParse(line, out record, out identity, out reason);
        if (parsed && _schema?.Check(record, "") is { } misfit)
        {
            reason = $"does not fit the dataset's schema: {misfit}";
            return false;
        }
        return parsed;
    }
}
