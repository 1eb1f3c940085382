using ExportJobs.Service.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Middleware;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Functions;

/// <summary>
/// An exception that escapes an HTTP function is answered here, once for every function, as problem+json
/// (<see cref="ExceptionProblems"/>); other triggers' exceptions go on to the host, which records the failure.
/// </summary>
public sealed class ExceptionProblemMiddleware(ILogger<ExceptionProblemMiddleware> log) : IFunctionsWorkerMiddleware
{
    public async Task Invoke(FunctionContext context, FunctionExecutionDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (context.GetHttpContext() is { Response.HasStarted: false } http)
        {
            log.LogError(e, "Function {Function} failed", context.FunctionDefinition.Name);
            await ExceptionProblems.From(e, ApiProblemPipeline.TraceId(http)).ExecuteAsync(http);
        }
    }
}
