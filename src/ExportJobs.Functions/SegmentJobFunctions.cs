using ExportJobs.Service.Http;
using ExportJobs.Service.Segments;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.Functions;

/// <summary>The <c>/segment/jobs</c> HTTP functions: adapters onto <see cref="SegmentJobsHandler"/>.</summary>
public sealed class SegmentJobFunctions(SegmentJobsHandler handler)
{
    [Function(FunctionNames.ListSegmentJobs)]
    public Task<IActionResult> List(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.SegmentJobs)] HttpRequest request,
        CancellationToken ct) => handler.ListAsync(request, ct).AsAction();

    [Function(FunctionNames.CreateSegmentJob)]
    public Task<IActionResult> Create(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = Routes.SegmentJobs)] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => handler.CreateAsync(request, client, ct).AsAction();

    [Function(FunctionNames.GetSegmentJob)]
    public Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.SegmentJob)] HttpRequest request,
        string id,
        CancellationToken ct) => handler.GetAsync(request, id, ct).AsAction();

    [Function(FunctionNames.DeleteSegmentJob)]
    public Task<IActionResult> Delete(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = Routes.SegmentJob)] HttpRequest request,
        string id,
        [DurableClient] DurableTaskClient client,
        CancellationToken ct) => handler.DeleteAsync(request, id, client, ct).AsAction();
}
