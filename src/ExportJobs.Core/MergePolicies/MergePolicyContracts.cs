namespace ExportJobs.Core.MergePolicies;

/// <summary>A merge policy, as <c>/config/mergePolicies</c> shows it and takes it.</summary>
public sealed record MergePolicy
{
    public string? Id { get; init; }
    public string? Name { get; init; }
    public string? ImsOrgId { get; init; }
    public string? Sandbox { get; init; }
    public MergePolicySchema? Schema { get; init; }
    public int? Version { get; init; }
    public IdentityGraph? IdentityGraph { get; init; }
    public AttributeMerge? AttributeMerge { get; init; }
    public bool? Default { get; init; }
    public long? UpdateEpoch { get; init; }
}

public sealed record MergePolicySchema
{
    public string? Name { get; init; }
}

public sealed record IdentityGraph
{
    /// <summary>
    /// <c>none</c>: a profile is the fragments of one primary identity; <c>pdg</c>: the fragments of every identity of
    /// an identity graph (docs/identity.md).
    /// </summary>
    public string? Type { get; init; }
}

public sealed record AttributeMerge
{
    /// <summary><c>timestampOrdered</c> (the newest fragment wins) or <c>dataSetPrecedence</c> (<see cref="Order"/> decides).</summary>
    public string? Type { get; init; }

    /// <summary>For <c>dataSetPrecedence</c>: dataset ids, highest precedence first.</summary>
    public List<string>? Order { get; init; }
}

/// <summary>The answer of <c>GET /config/mergePolicies</c>.</summary>
public sealed record MergePolicyList(
    IReadOnlyList<MergePolicy> Children,
    [property: System.Text.Json.Serialization.JsonPropertyName("_page")] MergePolicyPage Page);

public sealed record MergePolicyPage(int Count);

public static class MergePolicyRules
{
    public const string TimestampOrdered = "timestampOrdered";
    public const string DataSetPrecedence = "dataSetPrecedence";
    public const string BuiltInId = "timestampOrdered-none-mp";
    public const string Pdg = "pdg", NoGraph = "none";

    /// <summary>The policy every tenant has without creating one: the seed's <c>timestampOrdered-none-mp</c>.</summary>
    public static MergePolicy BuiltIn(string orgId, string sandbox) => new()
    {
        Id = BuiltInId,
        Name = "Timestamp ordered",
        ImsOrgId = orgId,
        Sandbox = sandbox,
        Schema = new MergePolicySchema { Name = "_xdm.context.profile" },
        Version = 1,
        IdentityGraph = new IdentityGraph { Type = NoGraph },
        AttributeMerge = new AttributeMerge { Type = TimestampOrdered },
        Default = true,
    };

    /// <summary>The most datasets a <c>dataSetPrecedence</c> order names.</summary>
    public const int MaxOrder = 100;

    public static ProblemList Validate(MergePolicy policy)
    {
        var problems = new ProblemList();
        if (policy.Id is not null || policy.Version is not null || policy.ImsOrgId is not null || policy.Sandbox is not null || policy.UpdateEpoch is not null)
            problems.Add("id", "id, version, imsOrgId, sandbox and updateEpoch are set by the service.");
        if (string.IsNullOrWhiteSpace(policy.Name) || policy.Name.Length > 256) problems.Add("name", "name is required, at most 256 characters.");
        if (policy.Schema?.Name is { Length: > 256 }) problems.Add("schema.name", "schema.name is longer than 256 characters.");
        if (policy.IdentityGraph?.Type is { } graph && graph is not (NoGraph or Pdg))
            problems.Add("identityGraph.type", "identityGraph.type is none or pdg.");
        switch (policy.AttributeMerge?.Type)
        {
            case null:
                problems.Add("attributeMerge.type", "attributeMerge.type is required: timestampOrdered or dataSetPrecedence.");
                break;
            case TimestampOrdered:
                if (policy.AttributeMerge.Order is not null) problems.Add("attributeMerge.order", "order is only for dataSetPrecedence.");
                break;
            case DataSetPrecedence:
                var order = policy.AttributeMerge.Order;
                if (order is null || order.Count == 0) problems.Add("attributeMerge.order", "dataSetPrecedence needs order: dataset ids, highest precedence first.");
                else if (order.Count > MaxOrder) problems.Add("attributeMerge.order", $"order names at most {MaxOrder} datasets.");
                else
                {
                    for (int i = 0; i < order.Count; i++)
                        if (!Ids.IsDatasetId(order[i])) problems.Add($"attributeMerge.order[{i}]", "a dataset id is 1 to 64 letters or digits.");
                    if (order.Distinct(StringComparer.Ordinal).Count() != order.Count) problems.Add("attributeMerge.order", "order names a dataset twice.");
                }
                break;
            default:
                problems.Add("attributeMerge.type", "attributeMerge.type is timestampOrdered or dataSetPrecedence.");
                break;
        }
        return problems;
    }
}
