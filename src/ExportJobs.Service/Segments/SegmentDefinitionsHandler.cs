using ExportJobs.Core;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Segments;

/// <summary>
/// <c>/segment/definitions</c>: list (<c>start</c>, <c>limit</c>), create, get, update (PATCH: the members given replace
/// the stored ones), delete. An expression is compiled on every write, against the schemas of the sandbox's datasets.
/// </summary>
public sealed class SegmentDefinitionsHandler(
    ApiRequests api, SegmentDefinitionStore definitions, DatasetStore datasets, MergePolicyStore mergePolicies,
    IOptions<ApiLimitsOptions> limits, TimeProvider time)
{
    private const int DefaultLimit = 20, MaxLimit = 100;

    public Task<IResult> ListAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (start, limit, pageProblem) = RequestReading.ReadOffsetPage(request, DefaultLimit, MaxLimit);
        if (pageProblem is not null) return pageProblem;

        var all = await definitions.ListAsync(tenant, ct);
        var page = all.Skip(start).Take(limit).ToList();
        string? next = start + limit < all.Count ? $"/segment/definitions?start={start + limit}&limit={limit}" : null;
        int pages = (all.Count + limit - 1) / limit;
        return Results.Json(
            new SegmentDefinitionList(page, new SegmentPage(all.Count, pages, page.Count, limit, start, next), new SegmentLinks(next)),
            CoreJson.Wire.SegmentDefinitionList);
    });

    public Task<IResult> CreateAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.SegmentDefinitionRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        if (await CheckAsync(tenant, body, patch: false, ct) is { } invalid) return invalid;

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var definition = new SegmentDefinition
        {
            Id = Guid.NewGuid().ToString(),
            Schema = body.Schema,
            ImsOrgId = tenant.OrgId,
            Sandbox = new SegmentSandbox(tenant.Sandbox),
            Name = body.Name,
            Description = body.Description,
            Expression = body.Expression,
            MergePolicyId = body.MergePolicyId,
            CreationTime = now,
            UpdateTime = now,
            UpdateEpoch = now / 1000,
        };
        var etag = await definitions.AddAsync(tenant, definition, ct);
        return Preconditions.WithETag(Results.Json(definition, CoreJson.Wire.SegmentDefinition), etag);
    });

    public Task<IResult> GetAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.SegmentDefinition(id), async (tenant, _) =>
    {
        var definition = await definitions.GetVersionedAsync(tenant, id, ct);
        return definition is { } found ? Preconditions.WithETag(Results.Json(found.Value, CoreJson.Wire.SegmentDefinition), found.ETag) : NotFound(id);
    });

    public Task<IResult> PatchAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.SegmentDefinition(id), async (tenant, _) =>
    {
        var (body, bodyProblem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.SegmentDefinitionRequest, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return bodyProblem!;
        if (await CheckAsync(tenant, body, patch: true, ct) is { } invalid) return invalid;

        long now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var (outcome, updated) = await definitions.ReplaceAsync(tenant, id, d => d with
        {
            Name = body.Name ?? d.Name,
            Description = body.Description ?? d.Description,
            Expression = body.Expression ?? d.Expression,
            MergePolicyId = body.MergePolicyId ?? d.MergePolicyId,
            Schema = body.Schema ?? d.Schema,
            UpdateTime = now,
            UpdateEpoch = now / 1000,
        }, Preconditions.IfMatch(request), ct);
        return outcome == RecordJson.ReplaceOutcome.Replaced
            ? Preconditions.WithETag(Results.Json(updated.Value, CoreJson.Wire.SegmentDefinition), updated.ETag)
            : Preconditions.Refused(outcome, () => NotFound(id));
    });

    /// <summary>200 with no body, as the platform answers. Jobs already created keep the expression they started with.</summary>
    public Task<IResult> DeleteAsync(HttpRequest request, string id, CancellationToken ct) => api.RunAsync(request, RouteIds.SegmentDefinition(id), async (tenant, _) =>
    {
        return await definitions.DeleteAsync(tenant, id, ct) ? Results.Ok() : NotFound(id);
    });

    private async Task<IResult?> CheckAsync(Tenant tenant, SegmentDefinitionRequest body, bool patch, CancellationToken ct)
    {
        var knownPaths = body.Expression is null ? null : SegmentDefinitionRules.KnownPaths(await datasets.ListAsync(tenant, ct));
        var problems = SegmentDefinitionRules.Check(body, patch, knownPaths);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);
        if (body.MergePolicyId is { } policyId && await mergePolicies.GetAsync(tenant, policyId, ct) is null)
            return Problems.Invalid("mergePolicyId", $"There is no merge policy '{policyId}' in this sandbox.");
        return null;
    }


    private static IResult NotFound(string id) => Problems.NotFound("id", $"There is no segment definition '{id}' in this sandbox.");
}
