using System.Buffers;
using System.Text.Json;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Service.Storage.Output;

/// <summary>
/// The rows of one Parquet part being gathered. With a schema the columns are known, so each row is shredded into them
/// as it comes and only the columns are held. Without one, the columns are inferred from all the rows: each row's shape
/// is observed as it comes and the row kept as its JSON text (a fraction of its nodes' memory), parsed again and
/// shredded when the part is written.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Its writers are over memory buffers: nothing to release.")]
public sealed class PartRows
{
    private readonly JsonColumns? _columns;
    private JsonShape _shape = new();
    private readonly ArrayBufferWriter<byte> _text = new();
    private readonly List<int> _ends = [];
    private readonly Utf8JsonWriter _writer;
    private readonly MemoryStream _file;

    private PartRows(JsonColumns? columns, MemoryStream? file)
    {
        _columns = columns;
        _file = file ?? new MemoryStream();
        _writer = new Utf8JsonWriter(_text);
    }

    /// <param name="projection">Given when the rows are added unprojected (<see cref="FieldProjection.ShreddedBy"/>): the fields the schema is of.</param>
    /// <param name="file">The buffer the part's file is written into, shared by parts written one at a time (a shard's, one per batch); its own when null.</param>
    public static PartRows For(SchemaNode? schema, FieldProjection? projection = null, MemoryStream? file = null) =>
        new(schema is null ? null : new JsonColumns(JsonShape.FromSchema(schema), projection), file);

    public int Count => _columns?.Rows ?? _ends.Count;

    /// <summary>What the rows added so far hold in memory (see <see cref="ExportStorageOptions.PartBytes"/>).</summary>
    public long Bytes => _columns?.Bytes ?? _text.WrittenCount;

    /// <summary>Adds a row (an object), read at once: it need not outlive the call, and may be added to other parts too.</summary>
    public void Add(MergedValue row)
    {
        if (_columns is not null)
        {
            _columns.Add(row);
            return;
        }
        _shape.Add(row);
        _writer.Reset(_text);
        row.WriteTo(_writer);
        _writer.Flush();
        _ends.Add(_text.WrittenCount);
    }

    public void Clear()
    {
        _columns?.Clear();
        _shape = new JsonShape();
        _text.ResetWrittenCount();
        _ends.Clear();
    }

    /// <summary>The part's Parquet file, in a buffer kept for the next part written into it (valid until then).</summary>
    internal async Task<MemoryStream> WriteAsync(CancellationToken ct)
    {
        _file.SetLength(0);
        if (_columns is not null)
            await _columns.WriteAsync(_file, ct);
        else
        {
            var inferred = new JsonColumns(_shape);
            int start = 0;
            foreach (int end in _ends)
            {
                using (var row = JsonDocument.Parse(_text.WrittenMemory[start..end])) inferred.Add(MergedValue.Of(row.RootElement));
                start = end;
            }
            await inferred.WriteAsync(_file, ct);
            inferred.Clear();
        }
        _file.Position = 0;
        return _file;
    }
}
