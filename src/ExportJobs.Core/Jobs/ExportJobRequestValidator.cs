using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Jobs;

/// <summary>Checks a create payload against the contract; returns every problem found, with its JSON path.</summary>
public static class ExportJobRequestValidator
{
    public const string Realized = "realized";
    public const string Exited = "exited";
    private const int MaxSegments = 100;
    private const int MaxFieldsLength = 8_192;

    public static ProblemList Validate(ExportJobRequest request)
    {
        var problems = new ProblemList();
        ValidateDestination(request.Destination, problems);
        ValidateSchema(request.Schema, problems);
        ValidateFilter(request.Filter, problems);
        ValidateFields("fields", request.Fields, problems);
        ValidateEvents(request.AdditionalFields?.EventList, problems);
        if (request.MergePolicy?.Id is { } policyId && !Ids.IsMergePolicyId(policyId))
            problems.Add("mergePolicy.id", "mergePolicy.id has characters outside [A-Za-z0-9._-] or is longer than 128.");
        if (request.MergePolicy?.AttributeMerge is not null)
            problems.Add("mergePolicy.attributeMerge", "mergePolicy names a policy by id and version; its rules are the policy's.");
        if (request.Callback is { } callback) CallbackRules.Check(callback, CallbackPolicy.AnyHost, problems);
        if (request.EvaluationInfo?.Segmentation == true) ValidateSegmentation(request.Filter?.Segments, problems);
        if (request.Incremental?.AfterJobId is <= 0) problems.Add("incremental.afterJobId", "incremental.afterJobId is the id of an earlier job (a positive integer).");
        if (request.Destination?.SegmentPerBatch == true && request.Filter?.Segments is not { Count: > 0 })
            problems.Add("destination.segmentPerBatch", "segmentPerBatch: true needs filter.segments: one batch is written per requested segment.");
        return problems;
    }

    private static void ValidateDestination(JobDestination? destination, ProblemList problems)
    {
        if (destination is null)
        {
            problems.Add("destination", "destination is required.");
            return;
        }
        if (string.IsNullOrEmpty(destination.DatasetId))
            problems.Add("destination.datasetId", "destination.datasetId is required.");
        else if (!Ids.IsDatasetId(destination.DatasetId))
            problems.Add("destination.datasetId", "destination.datasetId must be 1 to 64 letters or digits.");
        if (destination.BatchId is not null || destination.Batches is not null)
            problems.Add("destination.batchId", "batch ids are assigned by the service and cannot be given.");
    }

    private static void ValidateSchema(SchemaRef? schema, ProblemList problems)
    {
        if (string.IsNullOrWhiteSpace(schema?.Name))
            problems.Add("schema.name", "schema.name is required.");
        else if (schema.Name.Length > 256)
            problems.Add("schema.name", "schema.name is longer than 256 characters.");
    }

    private static void ValidateFilter(JobFilter? filter, ProblemList problems)
    {
        if (filter is null) return;
        if (filter.Segments is { } segments)
        {
            if (segments.Count == 0) problems.Add("filter.segments", "filter.segments, when given, must name at least one segment.");
            if (segments.Count > MaxSegments) problems.Add("filter.segments", $"filter.segments names more than {MaxSegments} segments.");
            for (int i = 0; i < segments.Count; i++) ValidateSegment(segments[i], $"filter.segments[{i}]", problems);
        }

        var window = filter.SegmentQualificationTime;
        DateTimeOffset start = default, end = default;
        bool hasStart = window?.StartTime is not null && CheckTime("filter.segmentQualificationTime.startTime", window.StartTime, problems, out start);
        bool hasEnd = window?.EndTime is not null && CheckTime("filter.segmentQualificationTime.endTime", window.EndTime, problems, out end);
        if (hasStart && hasEnd && start > end)
            problems.Add("filter.segmentQualificationTime", "startTime is after endTime.");
        if (filter.FromIngestTimestamp is not null) CheckTime("filter.fromIngestTimestamp", filter.FromIngestTimestamp, problems, out _);
    }

    /// <summary>Segmentation evaluates the requested segments' definitions, which live in the <c>ups</c> namespace.</summary>
    private static void ValidateSegmentation(List<SegmentSelector>? segments, ProblemList problems)
    {
        if (segments is not { Count: > 0 })
        {
            problems.Add("evaluationInfo.segmentation", "evaluationInfo.segmentation: true needs filter.segments: the segments to evaluate.");
            return;
        }
        for (int i = 0; i < segments.Count; i++)
            if (segments[i]?.SegmentNs is { } ns && ns != Segments.SegmentEvaluation.Namespace)
                problems.Add($"filter.segments[{i}].segmentNs", $"evaluationInfo.segmentation evaluates segment definitions, which are in the \"{Segments.SegmentEvaluation.Namespace}\" namespace.");
    }

    private static void ValidateSegment(SegmentSelector? segment, string path, ProblemList problems)
    {
        if (segment is null)
        {
            problems.Add(path, "a segment must be an object with a segmentId.");
            return;
        }
        if (string.IsNullOrEmpty(segment.SegmentId)) problems.Add($"{path}.segmentId", "segmentId is required.");
        else if (!Ids.IsSegmentId(segment.SegmentId)) problems.Add($"{path}.segmentId", "segmentId has characters outside [A-Za-z0-9._:-] or is longer than 128.");
        if (segment.SegmentNs is not null && !Ids.IsNamespace(segment.SegmentNs))
            problems.Add($"{path}.segmentNs", "segmentNs has characters outside [A-Za-z0-9._-] or is longer than 64.");
        if (segment.Status is { } statuses)
        {
            if (statuses.Count == 0) problems.Add($"{path}.status", "status, when given, must list realized and/or exited.");
            for (int i = 0; i < statuses.Count; i++)
                if (statuses[i] is not (Realized or Exited))
                    problems.Add($"{path}.status[{i}]", "status values are realized and exited.");
        }
    }

    private static void ValidateEvents(EventList? events, ProblemList problems)
    {
        if (events is null) return;
        ValidateFields("additionalFields.eventList.fields", events.Fields, problems);
        if (events.Filter?.FromIngestTimestamp is { } from) CheckTime("additionalFields.eventList.filter.fromIngestTimestamp", from, problems, out _);
        if (events.Filter?.ToIngestTimestamp is { } to) CheckTime("additionalFields.eventList.filter.toIngestTimestamp", to, problems, out _);
    }

    private static void ValidateFields(string path, string? fields, ProblemList problems)
    {
        if (string.IsNullOrWhiteSpace(fields)) return;
        if (fields.Length > MaxFieldsLength)
        {
            problems.Add(path, $"{path} is longer than {MaxFieldsLength} characters.");
            return;
        }
        if (!FieldProjection.TryParse(fields, out _, out string? error)) problems.Add(path, error!);
    }

    private static bool CheckTime(string path, string text, ProblemList problems, out DateTimeOffset value)
    {
        if (Rfc3339.TryParse(text, out value)) return true;
        problems.Add(path, $"{path} must be an RFC 3339 date-time such as 2018-01-01T00:00:00Z.");
        return false;
    }
}
