using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Schemas;

/// <summary>
/// What the schemas of a tenant's datasets say about a job: whether its <c>fields</c> (and <c>eventList.fields</c>) name
/// paths the data can hold, and the schema of the rows it writes — the union of the profile datasets' schemas,
/// projected by <c>fields</c>, with the <c>events</c> column (and an incremental export's <c>_change</c>). Only when
/// every profile dataset has a schema; otherwise nothing is checked and the output's types are inferred from the data.
/// </summary>
public static class ExportSchema
{
    public static (SchemaNode? Output, Problem? Problem) Resolve(ExportJobRequest request, IEnumerable<Dataset> datasets)
    {
        var (profiles, events) = Of(datasets);

        var projection = FieldProjection.Parse(request.Fields);
        if (profiles is not null && projection.FirstPathOutside(profiles) is { } path)
            return (null, new Problem("fields", $"fields path '{path}' is in no profile dataset's schema."));
        var eventList = request.AdditionalFields?.EventList;
        var eventProjection = FieldProjection.Parse(eventList?.Fields);
        if (eventList is not null && events is not null && eventProjection.FirstPathOutside(events) is { } eventPath)
            return (null, new Problem("additionalFields.eventList.fields", $"eventList.fields path '{eventPath}' is in no event dataset's schema."));

        if (profiles is null) return (null, null);
        var output = projection.Project(profiles);
        if (eventList is not null)
            output = output.With(EventAttachment.Column, SchemaNode.Of(SchemaKind.Array, events is null ? SchemaNode.Any : eventProjection.Project(events)));
        if (request.Incremental is not null) output = output.With(IncrementalRequest.ChangeColumn, SchemaNode.Of(SchemaKind.String));
        return (output, null);
    }

    /// <summary>
    /// What the tenant's profile-enabled datasets can hold: the union of the profile datasets' schemas and of the event
    /// datasets' schemas; either is null when a dataset of its kind has no schema (then nothing of that kind is checked).
    /// </summary>
    public static (SchemaNode? Profiles, SchemaNode? Events) Of(IEnumerable<Dataset> datasets)
    {
        var list = datasets.Where(d => d.ProfileEnabled).ToList();
        return (Union(list.Where(d => !d.HoldsEvents)), Union(list.Where(d => d.HoldsEvents)));
    }

    /// <summary>The union of the datasets' record schemas; null when there is none, or one of them has no schema.</summary>
    private static SchemaNode? Union(IEnumerable<Dataset> datasets)
    {
        SchemaNode? union = null;
        foreach (var dataset in datasets)
        {
            if (dataset.RecordSchema() is not { } schema) return null;
            union = union is null ? schema : SchemaNode.Union(union, schema);
        }
        return union;
    }
}
