using System.Text.Json.Serialization;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Segments;

/// <summary>
/// The object form of the body of <c>POST /segment/jobs</c>; the array form is its <c>segments</c> alone. A segment id
/// of <c>*</c> evaluates every definition of the sandbox.
/// </summary>
public sealed record SegmentJobRequest
{
    public SegmentSchema? Schema { get; init; }
    public List<SegmentJobSegmentRequest>? Segments { get; init; }
}

public sealed record SegmentJobSegmentRequest
{
    public string? SegmentId { get; init; }
}

/// <summary>A segment job as every answer shows it (the platform's shape; <c>errors</c> and <c>metrics.progress</c> beyond it).</summary>
public sealed record SegmentJob
{
    /// <summary>The job's number in its sandbox, as a string (the platform's ids are strings).</summary>
    public required string Id { get; init; }
    public required string ImsOrgId { get; init; }
    public required SegmentSandbox Sandbox { get; init; }
    public string ProfileInstanceId { get; init; } = "ups";
    /// <summary><c>api</c>, or <c>scheduler</c> for a job a <c>batch_segmentation</c> schedule created.</summary>
    public required string Source { get; init; }
    public required string Status { get; init; }
    public required List<SegmentJobSegment> Segments { get; init; }
    public SegmentJobMetrics? Metrics { get; init; }
    public string? RequestId { get; init; }
    public SegmentSchema Schema { get; init; } = new() { Name = SegmentDefinitionRules.ProfileSchema };
    public SegmentJobProperties? Properties { get; init; }
    public List<JobError>? Errors { get; init; }
    [JsonPropertyName("_links")]
    public SegmentJobLinks? Links { get; init; }
    public long CreationTime { get; init; }
    public long UpdateTime { get; init; }
    public long UpdateEpoch { get; init; }

    [JsonIgnore]
    public long Number => long.Parse(Id, System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A segment the job evaluates: its definition as it was when the job was created, and the merge policy it is evaluated by.</summary>
public sealed record SegmentJobSegment
{
    public required string SegmentId { get; init; }
    public required SegmentJobDefinition Segment { get; init; }
}

public sealed record SegmentJobDefinition
{
    public required string Id { get; init; }
    public required SegmentExpression Expression { get; init; }
    public required string MergePolicyId { get; init; }
    public required SegmentJobMergePolicy MergePolicy { get; init; }
}

public sealed record SegmentJobMergePolicy(string Id, int Version);

public sealed record SegmentJobProperties(string? ScheduleId, string? RunId);

public sealed record SegmentJobLinks(SegmentJobLink Cancel, SegmentJobLink CheckStatus);

public sealed record SegmentJobLink(string Href, string Method);

/// <summary>
/// What a segment job found. Per segment: <c>segmentedProfileCounter</c>, the profiles that qualify after the job (its
/// realized members); <c>segmentedProfileByNamespaceCounter</c>, those by the namespace of their identity;
/// <c>segmentedProfileByStatusCounter</c>, <c>realized</c> (the same) and <c>exited</c> (members that left in this
/// job). <c>totalProfiles</c>: the profiles evaluated, by each merge policy in <c>totalProfilesByMergePolicy</c>.
/// </summary>
public sealed record SegmentJobMetrics
{
    public Timing? TotalTime { get; init; }
    public Timing? ProfileSegmentationTime { get; init; }
    public long? TotalProfiles { get; init; }
    public Dictionary<string, long>? SegmentedProfileCounter { get; init; }
    public Dictionary<string, Dictionary<string, long>>? SegmentedProfileByNamespaceCounter { get; init; }
    public Dictionary<string, Dictionary<string, long>>? SegmentedProfileByStatusCounter { get; init; }
    public Dictionary<string, long>? TotalProfilesByMergePolicy { get; init; }
    public JobProgress? Progress { get; init; }
}

/// <summary>The answer of <c>GET /segment/jobs</c>.</summary>
public sealed record SegmentJobList(
    [property: JsonPropertyName("_page")] SegmentJobPage Page,
    IReadOnlyList<SegmentJob> Children,
    [property: JsonPropertyName("_links")] SegmentJobPageLinks Links);

public sealed record SegmentJobPage(int PageSize);

public sealed record SegmentJobPageLinks(SegmentJobPageLink? Next);

public sealed record SegmentJobPageLink(string Href);
