using ExportJobs.Service.Http;
using ExportJobs.Service.Identities;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>The <c>/config/identitySettings</c> HTTP functions: adapters onto <see cref="IdentitySettingsHandler"/>.</summary>
public sealed class IdentitySettingsFunctions(IdentitySettingsHandler handler)
{
    [Function(FunctionNames.GetIdentitySettings)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.IdentitySettings)] HttpRequest request,
        CancellationToken ct) => handler.GetAsync(request, ct).AsAction();

    [Function(FunctionNames.PutIdentitySettings)]
    public Task<IActionResult> Put(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = Routes.IdentitySettings)] HttpRequest request,
        CancellationToken ct) => handler.PutAsync(request, ct).AsAction();
}
