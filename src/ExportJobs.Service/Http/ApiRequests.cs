using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Access;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>
/// What every handler does before its own work, done once: the caller is authorized for the tenant the headers name
/// (401/403 otherwise, <see cref="ApiAccess"/>), then the route's ids are checked (<see cref="RouteIds"/>, 400
/// otherwise), and only then does the handler's work run, given the tenant and the ids' values.
/// </summary>
public sealed class ApiRequests(ApiAccess access)
{
    public async Task<IResult> RunAsync(HttpRequest request, Func<Tenant, Task<IResult>> work)
    {
        var (tenant, denied) = await access.AuthorizeAsync(request);
        return tenant is null ? denied! : await work(tenant);
    }

    public Task<IResult> RunAsync<T>(HttpRequest request, RouteId<T> id, Func<Tenant, T, Task<IResult>> work) =>
        RunAsync(request, tenant => id.Problem is { } invalid ? Task.FromResult(invalid) : work(tenant, id.Value));

    public Task<IResult> RunAsync<T1, T2>(HttpRequest request, RouteId<T1> first, RouteId<T2> second, Func<Tenant, T1, T2, Task<IResult>> work) =>
        RunAsync(request, tenant => (first.Problem ?? second.Problem) is { } invalid ? Task.FromResult(invalid) : work(tenant, first.Value, second.Value));
}
