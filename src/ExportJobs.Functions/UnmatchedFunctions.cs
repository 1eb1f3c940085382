using System.Reflection;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions;

/// <summary>
/// Every request under the API's prefix that no other function takes: a catch-all route, which the Functions host
/// matches last (a literal route segment takes precedence over a catch-all parameter), so an unknown path answers 404
/// and a known path under another method 405, both as problem+json (<see cref="UnmatchedRequests"/>). Paths outside
/// <c>data/core/ups</c> are the Functions host's own.
/// </summary>
public sealed class UnmatchedFunctions(UnmatchedRequests unmatched)
{
    public const string CatchAllRoute = Routes.Prefix + "/{*path}";

    [Function(FunctionNames.AnswerUnmatched)]
    public IActionResult Answer(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", "put", "patch", "delete", "head", "options", Route = CatchAllRoute)] HttpRequest request) =>
        new ResultAction(unmatched.Answer(request));

    /// <summary>The app's HTTP functions: each <c>[Function]</c> method with its trigger (what the LocalHost maps too).</summary>
    public static IEnumerable<(MethodInfo Method, HttpTriggerAttribute Trigger)> HttpFunctions() =>
        typeof(UnmatchedFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<FunctionAttribute>() is not null)
            .Select(m => (Method: m, Trigger: m.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).OfType<HttpTriggerAttribute>().SingleOrDefault()))
            .Where(f => f.Trigger is not null)
            .Select(f => (f.Method, f.Trigger!));

    /// <summary>The API's routes as this app declares them: each HTTP trigger's methods and route, the catch-all aside.</summary>
    public static IEnumerable<(string Method, string Template)> DeclaredRoutes() =>
        HttpFunctions()
            .Where(f => f.Trigger.Route != CatchAllRoute)
            .SelectMany(f => f.Trigger.Methods!.Select(method => (method.ToUpperInvariant(), f.Trigger.Route!)));
}
