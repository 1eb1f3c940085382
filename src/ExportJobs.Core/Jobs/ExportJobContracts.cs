namespace ExportJobs.Core.Jobs;

/// <summary>The body of <c>POST /export/jobs</c>, as the seed documents it (and an export schedule's properties).</summary>
public record ExportJobRequest
{
    public string? Fields { get; init; }
    public MergePolicyRef? MergePolicy { get; init; }
    public JobFilter? Filter { get; init; }
    public AdditionalFields? AdditionalFields { get; init; }
    public JobDestination? Destination { get; init; }
    public SchemaRef? Schema { get; init; }
    public EvaluationInfo? EvaluationInfo { get; init; }

    /// <summary>Beyond the seed: where to post the job when it ends, and the secret that signs the post.</summary>
    public CallbackRequest? Callback { get; init; }

    /// <summary>Beyond the seed: export the changes of the audience since a predecessor job (see <see cref="IncrementalRequest"/>).</summary>
    public IncrementalRequest? Incremental { get; init; }
}

/// <summary>
/// An incremental export (docs/api.md, "Incremental exports"): <c>{}</c> starts a chain (every member, as
/// <c>entered</c>); <c>afterJobId</c> names the job whose audience this one diffs against: each row then carries
/// <see cref="ChangeColumn"/>, <c>entered</c>, <c>exited</c> or <c>updated</c>, and unchanged members are left out.
/// </summary>
public sealed record IncrementalRequest
{
    public long? AfterJobId { get; init; }

    /// <summary>The column each row of an incremental export carries.</summary>
    public const string ChangeColumn = "_change";
    public const string Entered = "entered", Exited = "exited", Updated = "updated";
}

/// <summary>The rows of an incremental export by change.</summary>
public sealed record ChangeCounts(long Entered, long Exited, long Updated)
{
    public static ChangeCounts operator +(ChangeCounts a, ChangeCounts b) => new(a.Entered + b.Entered, a.Exited + b.Exited, a.Updated + b.Updated);
}

public sealed record CallbackRequest
{
    public string? Url { get; init; }
    public string? Secret { get; init; }
}

/// <summary>A job's callback as the job shows it: the URL and every delivery attempt (the secret is never shown).</summary>
public sealed record JobCallback
{
    public required string Url { get; init; }
    public List<CallbackAttempt>? Attempts { get; init; }
}

public sealed record CallbackAttempt(int Attempt, long AtMs, int? Status, string? Error, bool Delivered);

public sealed record MergePolicyRef
{
    public string? Id { get; init; }
    public int? Version { get; init; }

    /// <summary>Set by the service when the job is created: how the policy merges, as it was then.</summary>
    public MergePolicies.AttributeMerge? AttributeMerge { get; init; }

    /// <summary>Set by the service when the job is created: whether profiles are stitched (<c>pdg</c>) or not (<c>none</c>).</summary>
    public MergePolicies.IdentityGraph? IdentityGraph { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public bool Stitched => IdentityGraph?.Type == MergePolicies.MergePolicyRules.Pdg;
}

public sealed record JobFilter
{
    public List<SegmentSelector>? Segments { get; init; }
    public QualificationWindow? SegmentQualificationTime { get; init; }
    public string? FromIngestTimestamp { get; init; }
    public bool? EmptyProfiles { get; init; }
}

public sealed record SegmentSelector
{
    public string? SegmentId { get; init; }
    public string? SegmentNs { get; init; }
    public List<string>? Status { get; init; }
}

public sealed record QualificationWindow
{
    public string? StartTime { get; init; }
    public string? EndTime { get; init; }
}

public sealed record AdditionalFields
{
    public EventList? EventList { get; init; }
}

public sealed record EventList
{
    public string? Fields { get; init; }
    public EventWindow? Filter { get; init; }
}

public sealed record EventWindow
{
    public string? FromIngestTimestamp { get; init; }
    public string? ToIngestTimestamp { get; init; }
}

public sealed record JobDestination
{
    public string? DatasetId { get; init; }
    public bool? SegmentPerBatch { get; init; }
    public string? BatchId { get; init; }
    public List<SegmentBatch>? Batches { get; init; }
}

public sealed record SegmentBatch
{
    public string? SegmentId { get; init; }
    public string? SegmentNs { get; init; }
    public List<string>? Status { get; init; }
    public string? BatchId { get; init; }
}

public sealed record SchemaRef
{
    public string? Name { get; init; }
}

public sealed record EvaluationInfo
{
    public bool? Segmentation { get; init; }
}

/// <summary>An export job as every answer shows it (the seed's job shape).</summary>
public sealed record ExportJob
{
    public long Id { get; init; }
    public string JobType { get; init; } = "BATCH";
    public required JobDestination Destination { get; init; }
    public string? Fields { get; init; }
    public required SchemaRef Schema { get; init; }
    public required string ImsOrgId { get; init; }
    public required string Status { get; init; }
    public JobFilter? Filter { get; init; }
    public AdditionalFields? AdditionalFields { get; init; }
    public MergePolicyRef? MergePolicy { get; init; }
    public EvaluationInfo? EvaluationInfo { get; init; }
    public string ProfileInstanceId { get; init; } = "ups";
    public List<JobError>? Errors { get; init; }
    public JobMetrics? Metrics { get; init; }
    public ComputeGatewayJobId? ComputeGatewayJobId { get; init; }
    public long CreationTime { get; init; }
    public long UpdateTime { get; init; }
    public string? RequestId { get; init; }

    /// <summary>Beyond the seed: the schedule that created the job, if one did.</summary>
    public string? ScheduleId { get; init; }

    /// <summary>Beyond the seed: the completion callback and its delivery attempts.</summary>
    public JobCallback? Callback { get; init; }

    /// <summary>Beyond the seed: an incremental export, and the job it diffs against.</summary>
    public IncrementalRequest? Incremental { get; init; }

    /// <summary>
    /// Whether <paramref name="request"/> asks for the same rows as this job (fields, merge policy, filter, events,
    /// batches): only then can one diff against the other.
    /// </summary>
    public bool SameAudienceAs(ExportJobRequest request)
    {
        static string Key(string? fields, string? policy, JobFilter? filter, AdditionalFields? additional, bool perSegment) =>
            System.Text.Json.JsonSerializer.Serialize(new AudienceKey(fields, policy, filter, additional, perSegment), CoreJson.Wire.AudienceKey);
        var segments = request.Filter?.Segments?.Select(s => s with
        {
            SegmentNs = s.SegmentNs ?? ExportSelection.DefaultSegmentNamespace,
            Status = s.Status ?? [ExportJobRequestValidator.Realized],
        }).ToList();
        return Key(Fields, MergePolicy?.Id, Filter, AdditionalFields, Destination.SegmentPerBatch == true)
            == Key(request.Fields, request.MergePolicy?.Id ?? MergePolicy?.Id, request.Filter is null ? null : request.Filter with { Segments = segments },
                request.AdditionalFields, request.Destination?.SegmentPerBatch == true);
    }

    /// <summary>The batches the job writes: one, or one per requested segment (<c>segmentPerBatch</c>), in request order.</summary>
    public IReadOnlyList<string> OutputBatchIds() =>
        Destination.Batches is { } batches ? batches.Select(b => b.BatchId!).ToList() : [Destination.BatchId!];
}

public sealed record JobError(string Code, string Msg, string? CallStack)
{
    /// <summary>How long a kept message and call stack are at most: they may quote data of any length, and a job's record holds them beside the rest.</summary>
    public const int MaxMessageChars = 1_000, MaxCallStackChars = 4_000;

    /// <summary>A step's failure as a job keeps it: its message and call stack cut to <see cref="MaxMessageChars"/> and <see cref="MaxCallStackChars"/>.</summary>
    public static JobError Of(string code, string message, string? callStack) =>
        new(code, ShownText.Cut(message, MaxMessageChars), callStack is null ? null : ShownText.Cut(callStack, MaxCallStackChars));
}

public sealed record JobMetrics
{
    public Timing? TotalTime { get; init; }
    public Timing? ProfileExportTime { get; init; }
    public long? TotalExportedProfileCounter { get; init; }
    public Dictionary<string, long>? ExportedProfileByNamespaceCounter { get; init; }

    // Beyond the seed: rows per requested segment, what was written, and progress while PROCESSING.
    public List<SegmentCount>? ExportedProfileBySegmentCounter { get; init; }
    public long? Files { get; init; }
    public long? Bytes { get; init; }
    public JobProgress? Progress { get; init; }
    /// <summary>Of an incremental export: its rows by change.</summary>
    public ChangeCounts? Changes { get; init; }
    /// <summary>Each export activity of the job: its shards (a <c>pdg</c> export's: partitions), rows written and time taken.</summary>
    public List<ShardFigure>? Shards { get; init; }
}

public sealed record ShardFigure(int[] Shards, long Rows, long Ms);

/// <summary>What makes two jobs' audiences the same (compared as JSON).</summary>
public sealed record AudienceKey(string? Fields, string? MergePolicyId, JobFilter? Filter, AdditionalFields? AdditionalFields, bool SegmentPerBatch);

public sealed record SegmentCount(string SegmentId, string SegmentNs, long Count);

public sealed record JobProgress(int ShardsDone, int Shards);

/// <summary>A start/end pair in epoch milliseconds, as the seed's <c>metrics.totalTime</c>.</summary>
public sealed record Timing
{
    public long? StartTimeInMs { get; init; }
    public long? EndTimeInMs { get; init; }
    public long? TotalTimeInMs { get; init; }

    public static Timing Started(long startMs) => new() { StartTimeInMs = startMs };
    public Timing EndedAt(long endMs) => this with { EndTimeInMs = endMs, TotalTimeInMs = endMs - (StartTimeInMs ?? endMs) };
}

public sealed record ComputeGatewayJobId(string ExportJob);

/// <summary>The answer of <c>GET /export/jobs</c>.</summary>
public sealed record ExportJobPage(IReadOnlyList<ExportJob> Records, PageInfo Page, PageLink Link);

public sealed record PageInfo(string SortField, string Sort, string? PageOffset, int PageSize);

public sealed record PageLink(string? Next);

/// <summary>The answer of <c>DELETE /export/jobs/{id}</c>.</summary>
public sealed record DeleteAnswer(bool Status, string Message);
