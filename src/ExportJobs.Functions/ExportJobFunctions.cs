using ExportJobs.Service.Http;
using ExportJobs.Service.Jobs;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Functions;

/// <summary>The <c>/export/jobs</c> HTTP functions: adapters onto <see cref="ExportJobsHandler"/>.</summary>
public sealed class ExportJobFunctions(ExportJobsHandler handler)
{
    [Function(FunctionNames.ListExportJobs)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ExportJobs)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.CreateExportJob)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.ExportJobs)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => handler.CreateAsync(request, client, ct).AsAction();

    [Function(FunctionNames.GetExportJob)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.ExportJob)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.GetAsync(request, id, ct).AsAction();

    [Function(FunctionNames.DeleteExportJob)]
    public Task<IActionResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.ExportJob)] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => handler.DeleteAsync(request, id, client, ct).AsAction();
}
