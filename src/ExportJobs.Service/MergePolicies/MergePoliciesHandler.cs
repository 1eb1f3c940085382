using ExportJobs.Core;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.MergePolicies;

/// <summary><c>/config/mergePolicies</c>: list, create, get, update (PUT, a new version), delete.</summary>
public sealed class MergePoliciesHandler(ApiAccess access, MergePolicyStore policies, IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    public async Task<IResult> ListAsync(HttpRequest request, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        var all = await policies.ListAsync(tenant, ct);
        return Results.Json(new MergePolicyList(all, new MergePolicyPage(all.Count)), CoreJson.Wire.MergePolicyList);
    }

    public async Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        var (body, problem) = await ReadAsync(request, ct);
        if (body is null) return problem!;
        var policy = body with
        {
            Id = Ids.NewMergePolicyId(),
            ImsOrgId = tenant.OrgId,
            Sandbox = tenant.Sandbox,
            Version = 1,
            Default = body.Default ?? false,
            Schema = body.Schema ?? new MergePolicySchema { Name = "_xdm.context.profile" },
            IdentityGraph = body.IdentityGraph ?? new IdentityGraph { Type = "none" },
            UpdateEpoch = time.GetUtcNow().ToUnixTimeSeconds(),
        };
        await policies.SaveAsync(tenant, policy, ct);
        return Results.Json(policy, CoreJson.Wire.MergePolicy, statusCode: StatusCodes.Status201Created);
    }

    public async Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.IsMergePolicyId(id)) return InvalidPolicyId();
        var policy = await policies.GetAsync(tenant, id, ct);
        return policy is null ? NotFound(id) : Results.Json(policy, CoreJson.Wire.MergePolicy);
    }

    /// <summary>Replaces a policy's rules; its version goes up by one. Jobs already created keep the rules they started with.</summary>
    public async Task<IResult> UpdateAsync(HttpRequest request, string id, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.IsMergePolicyId(id)) return InvalidPolicyId();
        var (body, problem) = await ReadAsync(request, ct);
        if (body is null) return problem!;
        var current = await policies.GetAsync(tenant, id, ct);
        if (current is null) return NotFound(id);
        if (current.Id == MergePolicyRules.BuiltInId)
            return Problems.Invalid("id", "The built-in policy cannot change; create a policy of your own.");
        var updated = current with
        {
            Name = body.Name,
            Schema = body.Schema ?? current.Schema,
            IdentityGraph = body.IdentityGraph ?? current.IdentityGraph,
            AttributeMerge = body.AttributeMerge,
            Default = body.Default ?? current.Default,
            Version = current.Version + 1,
            UpdateEpoch = time.GetUtcNow().ToUnixTimeSeconds(),
        };
        await policies.SaveAsync(tenant, updated, ct);
        return Results.Json(updated, CoreJson.Wire.MergePolicy);
    }

    public async Task<IResult> DeleteAsync(HttpRequest request, string id, CancellationToken ct)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        if (tenant is null) return denied!;
        if (!Ids.IsMergePolicyId(id)) return InvalidPolicyId();
        if (id == MergePolicyRules.BuiltInId) return Problems.Invalid("id", "The built-in policy cannot be deleted.");
        return await policies.DeleteAsync(tenant, id, ct) ? Results.NoContent() : NotFound(id);
    }

    private async Task<(MergePolicy? Policy, IResult? Problem)> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var (body, problem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.MergePolicy, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return (null, problem);
        var problems = MergePolicyRules.Validate(body);
        return problems.IsEmpty ? (body, null) : (null, Problems.Invalid(problems.Items));
    }

    private static IResult InvalidPolicyId() =>
        Problems.Invalid("id", "A merge policy id is 1 to 128 characters of [A-Za-z0-9._-].");

    private static IResult NotFound(string id) => Problems.NotFound("id", $"There is no merge policy '{id}' in this sandbox.");
}
