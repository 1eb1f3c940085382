using ExportJobs.Service.Console;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>The operations console at <c>/console</c>: its static files (<see cref="ConsoleFiles"/>), without credentials; the page asks for them.</summary>
public sealed class ConsoleFunctions(ConsoleFiles files)
{
    [Function(FunctionNames.GetConsoleFile)]
    public IActionResult Get(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = Routes.Console)] HttpRequest request,
        string? path) => new ResultAction(files.Serve(request.HttpContext.Response, path));
}
