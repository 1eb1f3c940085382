using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Identities;

/// <summary>
/// <c>/config/identitySettings</c>: a sandbox's identity graph linking rules (namespace priority, unique namespaces),
/// read and replaced whole (<c>If-Match</c> honoured; the defaults until the first <c>PUT</c>).
/// </summary>
public sealed class IdentitySettingsHandler(ApiRequests api, IdentitySettingsStore settings, IOptions<ApiLimitsOptions> limits)
{
    public Task<IResult> GetAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var current = await settings.GetAsync(tenant, ct);
        return Preconditions.WithETag(Results.Json(current.Value, CoreJson.Wire.IdentitySettings), current.ETag);
    });

    public Task<IResult> PutAsync(HttpRequest request, CancellationToken ct) => api.RunAsync(request, async tenant =>
    {
        var (body, problem) = await RequestReading.ReadJsonAsync(request, CoreJson.Requests.IdentitySettings, limits.Value.MaxJsonBodyBytes, ct);
        if (body is null) return problem!;
        var problems = IdentitySettings.Check(body);
        if (!problems.IsEmpty) return Problems.Invalid(problems.Items);
        var stored = body with { UniqueNamespaces = body.UniqueNamespaces ?? [] };
        var (outcome, etag) = await settings.PutAsync(tenant, stored, Preconditions.IfMatch(request), ct);
        return outcome == RecordJson.ReplaceOutcome.Replaced
            ? Preconditions.WithETag(Results.Json(stored, CoreJson.Wire.IdentitySettings), etag)
            : Preconditions.Refused(outcome, () => Problems.PreconditionFailed("The settings changed since the version in If-Match; read them again and reapply the change."));
    });
}
