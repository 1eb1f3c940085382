using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Schedules;

/// <summary>A schedule, as <c>/config/schedules</c> shows it and takes it.</summary>
public sealed record Schedule
{
    public string? Id { get; init; }
    public string? ImsOrgId { get; init; }
    public string? Sandbox { get; init; }
    public string? Name { get; init; }
    public string? Type { get; init; }
    public string? State { get; init; }
    /// <summary>Quartz-style cron with seconds: 6 or 7 fields, <c>? L W #</c> allowed. Evaluated in UTC.</summary>
    [JsonPropertyName("schedule")]
    public string? Cron { get; init; }
    /// <summary>
    /// For <c>export</c>: the export job payload, exactly as <c>POST /export/jobs</c> takes it; for
    /// <c>batch_segmentation</c>: <c>segments</c> alone.
    /// </summary>
    public ScheduleProperties? Properties { get; init; }
    public long? CreateEpoch { get; init; }
    public long? UpdateEpoch { get; init; }
    public string? NextRunTime { get; init; }
    public string? LastRunTime { get; init; }
    public long? LastJobId { get; init; }
    public string? LastError { get; init; }
}

/// <summary>A schedule's properties: an export job payload, or the segments a <c>batch_segmentation</c> schedule evaluates (ids, or <c>["*"]</c>).</summary>
public sealed record ScheduleProperties : ExportJobRequest
{
    public List<string>? Segments { get; init; }
}

public static class ScheduleStates
{
    public const string Active = "active";
    public const string Inactive = "inactive";
}

public static class ScheduleTypes
{
    public const string Export = "export";
    public const string BatchSegmentation = "batch_segmentation";
}

/// <summary>One operation of a JSON Patch (RFC 6902) on a schedule.</summary>
public sealed record PatchOperation
{
    public string? Op { get; init; }
    public string? Path { get; init; }
    public JsonNode? Value { get; init; }
}

/// <summary>The answer of <c>GET /config/schedules</c>.</summary>
public sealed record ScheduleList(
    [property: JsonPropertyName("_page")] SchedulePage Page,
    IReadOnlyList<Schedule> Children,
    [property: JsonPropertyName("_links")] ScheduleLinks Links);

public sealed record SchedulePage(int TotalCount, int PageSize);

public sealed record ScheduleLinks(ScheduleLink? Next);

public sealed record ScheduleLink(string Href);
