using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>The OpenAPI document, anonymous: an adapter onto <see cref="OpenApiDocument"/>.</summary>
public sealed class OpenApiFunctions
{
    [Function(FunctionNames.GetOpenApiDocument)]
    public static Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.OpenApiDocument)] HttpRequest request) =>
        Task.FromResult(OpenApiDocument.Answer()).AsAction();
}
