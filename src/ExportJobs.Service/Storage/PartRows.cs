using System.Text.Json.Nodes;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The rows of one Parquet part being gathered. With a schema the columns are known, so each row is shredded into them
/// as it comes and only the columns are held; without one, the rows are held until the part is written, since their
/// shape is inferred from all of them.
/// </summary>
public sealed class PartRows
{
    private readonly JsonColumns? _columns;
    private readonly List<JsonObject> _rows = [];

    private PartRows(JsonColumns? columns) => _columns = columns;

    public static PartRows For(SchemaNode? schema) => new(schema is null ? null : new JsonColumns(JsonShape.FromSchema(schema)));

    public int Count => _columns?.Rows ?? _rows.Count;

    /// <summary>Adds a row; it is not changed, and may be added to other parts too.</summary>
    public void Add(JsonObject row)
    {
        if (_columns is not null) _columns.Add(row);
        else _rows.Add(row);
    }

    public void Clear()
    {
        _columns?.Clear();
        _rows.Clear();
    }

    internal Task WriteAsync(Stream stream, CancellationToken ct)
    {
        if (_columns is not null) return _columns.WriteAsync(stream, ct);
        var inferred = new JsonColumns(JsonShape.Of(_rows));
        foreach (var row in _rows) inferred.Add(row);
        return inferred.WriteAsync(stream, ct);
    }
}
