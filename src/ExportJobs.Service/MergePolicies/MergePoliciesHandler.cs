using ExportJobs.Core;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.MergePolicies;

/// <summary><c>/config/mergePolicies</c>: list, create, get, update (PUT, a new version), delete.</summary>
public sealed class MergePoliciesHandler(ApiRequests api, MergePolicyStore policies, DatasetStore datasets, IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var all = await policies.ListAsync(tenant, ct);
        return Results.Json(new MergePolicyList(all, new MergePolicyPage(all.Count)), CoreJson.Wire.MergePolicyList);
    });

    public Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, problem) = await ReadAsync(request, tenant, ct);
        if (body is null) return problem!;
        var policy = body with
        {
            Id = Ids.NewMergePolicyId(),
            ImsOrgId = tenant.OrgId,
            Sandbox = tenant.Sandbox,
            Version = 1,
            Default = body.Default ?? false,
            Schema = body.Schema ?? new MergePolicySchema { Name = "_xdm.context.profile" },
            IdentityGraph = body.IdentityGraph ?? new IdentityGraph { Type = MergePolicyRules.NoGraph },
            UpdateEpoch = time.GetUtcNow().ToUnixTimeSeconds(),
        };
        var etag = await policies.AddAsync(tenant, policy, ct);
        return Preconditions.WithETag(Results.Json(policy, CoreJson.Wire.MergePolicy, statusCode: StatusCodes.Status201Created), etag);
    });

    public Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.MergePolicy(id), async (tenant, _) =>
    {
        var policy = await policies.GetVersionedAsync(tenant, id, ct);
        return policy is { } found ? Preconditions.WithETag(Results.Json(found.Value, CoreJson.Wire.MergePolicy), found.ETag) : NotFound(id);
    });

    /// <summary>
    /// Replaces a policy's rules; its version goes up by one, once per rule set stored (compare-and-swap; <c>If-Match</c>
    /// honoured). Jobs already created keep the rules they started with.
    /// </summary>
    public Task<IResult> UpdateAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.MergePolicy(id), async (tenant, _) =>
    {
        var (body, problem) = await ReadAsync(request, tenant, ct);
        if (body is null) return problem!;
        if (id == MergePolicyRules.BuiltInId)
            return Problems.Invalid("id", "The built-in policy cannot change; create a policy of your own.");
        var (outcome, updated) = await policies.ReplaceAsync(tenant, id, current => current with
        {
            Name = body.Name,
            Schema = body.Schema ?? current.Schema,
            IdentityGraph = body.IdentityGraph ?? current.IdentityGraph,
            AttributeMerge = body.AttributeMerge,
            Default = body.Default ?? current.Default,
            Version = current.Version + 1,
            UpdateEpoch = time.GetUtcNow().ToUnixTimeSeconds(),
        }, Preconditions.IfMatch(request), ct);
        return outcome == RecordJson.ReplaceOutcome.Replaced
            ? Preconditions.WithETag(Results.Json(updated.Value, CoreJson.Wire.MergePolicy), updated.ETag)
            : Preconditions.Refused(outcome, () => NotFound(id));
    });

    public Task<IResult> DeleteAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.MergePolicy(id), async (tenant, _) =>
    {
        if (id == MergePolicyRules.BuiltInId) return Problems.Invalid("id", "The built-in policy cannot be deleted.");
        return await policies.DeleteAsync(tenant, id, ct) ? Results.NoContent() : NotFound(id);
    });

    /// <summary>The body, valid, and with an <c>order</c> that names datasets of the sandbox; or the problem with it.</summary>
    private async Task<(MergePolicy? Policy, IResult? Problem)> ReadAsync(HttpRequest request, Core.Tenancy.Tenant tenant, CancellationToken ct)
    {
        var (body, problem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.MergePolicy, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return (null, problem);
        var problems = MergePolicyRules.Validate(body);
        if (problems.IsEmpty && body.AttributeMerge?.Order is { Count: > 0 } order)
        {
            var known = (await datasets.ListAsync(tenant, ct)).Select(d => d.Id).ToHashSet(StringComparer.Ordinal);
            for (int i = 0; i < order.Count; i++)
                if (!known.Contains(order[i])) problems.Add($"attributeMerge.order[{i}]", $"There is no dataset '{order[i]}' in this sandbox.");
        }
        return problems.IsEmpty ? (body, null) : (null, Problems.Invalid(problems.Items));
    }


    private static IResult NotFound(string id) => Problems.NotFound("id", $"There is no merge policy '{id}' in this sandbox.");
}
