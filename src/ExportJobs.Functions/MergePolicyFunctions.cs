using ExportJobs.Service.Http;
using ExportJobs.Service.MergePolicies;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>The <c>/config/mergePolicies</c> HTTP functions: adapters onto <see cref="MergePoliciesHandler"/>.</summary>
public sealed class MergePolicyFunctions(MergePoliciesHandler handler)
{
    [Function(FunctionNames.ListMergePolicies)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.MergePolicies)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.CreateMergePolicy)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.MergePolicies)] HttpRequest request,
        CancellationToken ct) => handler.CreateAsync(request, ct).AsAction();

    [Function(FunctionNames.GetMergePolicy)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.MergePolicy)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.GetAsync(request, id, ct).AsAction();

    [Function(FunctionNames.UpdateMergePolicy)]
    public Task<IActionResult> Update(
        [HttpTrigger(AuthorizationLevel.Anonymous, "put", Route = Routes.MergePolicy)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.UpdateAsync(request, id, ct).AsAction();

    [Function(FunctionNames.DeleteMergePolicy)]
    public Task<IActionResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.MergePolicy)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.DeleteAsync(request, id, ct).AsAction();
}
