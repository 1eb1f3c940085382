using ExportJobs.Service.Http;
using ExportJobs.Service.Segments;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>The <c>/segment/definitions</c> HTTP functions: adapters onto <see cref="SegmentDefinitionsHandler"/>.</summary>
public sealed class SegmentDefinitionFunctions(SegmentDefinitionsHandler handler)
{
    [Function(FunctionNames.ListSegmentDefinitions)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.SegmentDefinitions)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.CreateSegmentDefinition)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.SegmentDefinitions)] HttpRequest request,
        CancellationToken ct) => handler.CreateAsync(request, ct).AsAction();

    [Function(FunctionNames.GetSegmentDefinition)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.SegmentDefinition)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.GetAsync(request, id, ct).AsAction();

    [Function(FunctionNames.PatchSegmentDefinition)]
    public Task<IActionResult> Patch(
        [HttpTrigger(AuthorizationLevel.Anonymous, "patch", Route = Routes.SegmentDefinition)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.PatchAsync(request, id, ct).AsAction();

    [Function(FunctionNames.DeleteSegmentDefinition)]
    public Task<IActionResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.SegmentDefinition)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.DeleteAsync(request, id, ct).AsAction();
}
