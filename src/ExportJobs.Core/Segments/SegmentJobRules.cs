using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Segments;

/// <summary>What a segment job request must be, before the sandbox's definitions are looked up.</summary>
public static class SegmentJobRules
{
    /// <summary>The segment id that stands for every definition of the sandbox.</summary>
    public const string All = "*";

    /// <summary>The most segments one request names (the platform's own threshold for listing them).</summary>
    public const int MaxSegments = 1_500;

    /// <summary>The one order <c>GET /segment/jobs</c> lists in.</summary>
    public const string Sort = "creationTime:desc";

    public static ProblemList Check(SegmentJobRequest request)
    {
        var problems = new ProblemList();
        if (request.Schema is not null && request.Schema.Name != SegmentDefinitionRules.ProfileSchema)
            problems.Add("schema.name", $"schema.name is \"{SegmentDefinitionRules.ProfileSchema}\".");
        var segments = request.Segments;
        if (segments is null || segments.Count == 0 || segments.Count > MaxSegments)
        {
            problems.Add("segments", $"segments lists 1 to {MaxSegments} segment definitions, as {{\"segmentId\": \"…\"}}, or [{{\"segmentId\": \"*\"}}] for all.");
            return problems;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < segments.Count; i++)
        {
            string? id = segments[i]?.SegmentId;
            if (id == All)
            {
                if (segments.Count > 1) problems.Add($"segments[{i}].segmentId", "\"*\" stands for every segment definition; it is the only entry when given.");
            }
            else if (!Ids.IsSegmentId(id)) problems.Add($"segments[{i}].segmentId", "segmentId is required: a segment definition id of [A-Za-z0-9._:-], at most 128, or \"*\".");
            else if (!seen.Add(id!)) problems.Add($"segments[{i}].segmentId", $"segment '{id}' is listed twice.");
        }
        return problems;
    }

    /// <summary>The filters of <c>GET /segment/jobs</c> beside <c>start</c> and <c>limit</c>: <c>status</c>, and <c>sort</c> (only newest first).</summary>
    public static void CheckListFilters(string? status, string? sort, ProblemList problems)
    {
        if (status is not null && !JobStatus.All.Contains(status)) problems.Add("status", $"status must be one of {string.Join(", ", JobStatus.All)}.");
        if (sort is not null && sort != Sort) problems.Add("sort", $"sort is {Sort}: segment jobs are listed newest first.");
    }
}
