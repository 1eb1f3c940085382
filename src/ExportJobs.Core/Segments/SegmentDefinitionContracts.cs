namespace ExportJobs.Core.Segments;

/// <summary>A segment definition as <c>/segment/definitions</c> shows it.</summary>
public sealed record SegmentDefinition
{
    public string? Id { get; init; }
    public SegmentSchema? Schema { get; init; }
    public string ProfileInstanceId { get; init; } = "ups";
    public string? ImsOrgId { get; init; }
    public SegmentSandbox? Sandbox { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public SegmentExpression? Expression { get; init; }
    public string? MergePolicyId { get; init; }
    public long CreationTime { get; init; }
    public long UpdateTime { get; init; }
    public long UpdateEpoch { get; init; }
}

/// <summary>The body of <c>POST /segment/definitions</c>, and of <c>PATCH</c> (there every member is optional and replaces the stored one).</summary>
public sealed record SegmentDefinitionRequest
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public SegmentExpression? Expression { get; init; }
    public string? MergePolicyId { get; init; }
    public SegmentSchema? Schema { get; init; }
}

public sealed record SegmentExpression
{
    public string? Type { get; init; }
    public string? Format { get; init; }
    public string? Value { get; init; }
}

public sealed record SegmentSchema
{
    public string? Name { get; init; }
}

public sealed record SegmentSandbox(string SandboxName);

/// <summary>The answer of <c>GET /segment/definitions</c>.</summary>
public sealed record SegmentDefinitionList(IReadOnlyList<SegmentDefinition> Segments, SegmentPage Page, SegmentLinks Link);

[System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1822", Justification = "Members of the wire contract: serialized with the page.")]
public sealed record SegmentPage(int TotalCount, int TotalPages, int PageSize, int Limit, int Start, string? Next)
{
    public string SortField => "creationTime";
    public string Sort => "asc";
}

public sealed record SegmentLinks(string? Next);
