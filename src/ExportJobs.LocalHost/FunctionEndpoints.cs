using System.Reflection;
using ExportJobs.Functions;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;

namespace ExportJobs.LocalHost;

/// <summary>
/// The Function App's HTTP functions are the one declaration of the API: here each <c>[Function]</c> method with an
/// <c>[HttpTrigger]</c> is mapped, at start-up, to its route and methods, and a request runs that very method — its
/// class made per request from the container, as the Functions worker does, its parameters bound as Functions binds
/// them (the request, route values by name, the Durable client, the request's cancellation).
/// </summary>
public static class FunctionEndpoints
{
    /// <summary>
    /// Maps every HTTP function at its route (the API's catch-all among them: a known path under another method, or an
    /// unknown path, reaches it), and answers any other path as the catch-all does.
    /// </summary>
    public static IEndpointRouteBuilder MapFunctions(this IEndpointRouteBuilder app)
    {
        foreach (var (method, trigger) in UnmatchedFunctions.HttpFunctions())
        {
            var bind = method.GetParameters().Select(Binder).ToArray();
            app.MapMethods("/" + trigger.Route!, trigger.Methods!.Select(m => m.ToUpperInvariant()), context => InvokeAsync(context, method, bind))
                .WithName(method.GetCustomAttribute<FunctionAttribute>()!.Name);
        }
        app.MapFallback((HttpRequest r, UnmatchedRequests unmatched) => unmatched.Answer(r));
        return app;
    }

    /// <summary>The app's routes as mapped (method and template), the catch-all and the development sign-in aside.</summary>
    public static IEnumerable<(string Method, string Template)> Mapped(EndpointDataSource endpoints) =>
        endpoints.Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<HttpMethodMetadata>() is not null && e.RoutePattern.RawText != DevelopmentTokens.Route)
            .Select(e => (Methods: e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods, Template: e.RoutePattern.RawText!.TrimStart('/')))
            .Where(e => e.Template != UnmatchedFunctions.CatchAllRoute)
            .SelectMany(e => e.Methods.Select(method => (method, e.Template)));

    private static async Task InvokeAsync(HttpContext context, MethodInfo method, Func<HttpContext, object?>[] bind)
    {
        object? instance = method.IsStatic ? null : ActivatorUtilities.CreateInstance(context.RequestServices, method.DeclaringType!);
        object? returned = method.Invoke(instance, bind.Select(b => b(context)).ToArray());
        var result = returned switch
        {
            Task<IActionResult> task => await task,
            IActionResult action => action,
            _ => throw new InvalidOperationException($"{method.DeclaringType!.Name}.{method.Name} returns {returned?.GetType().Name}, not an IActionResult."),
        };
        await result.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), new ActionDescriptor()));
    }

    /// <summary>How one parameter is bound; a parameter of another kind stops the host at start-up.</summary>
    private static Func<HttpContext, object?> Binder(ParameterInfo parameter) => parameter switch
    {
        _ when parameter.GetCustomAttribute<HttpTriggerAttribute>() is not null => c => c.Request,
        _ when parameter.ParameterType == typeof(DurableTaskClient) => c => c.RequestServices.GetRequiredService<DurableTaskClient>(),
        _ when parameter.ParameterType == typeof(CancellationToken) => c => c.RequestAborted,
        _ when parameter.ParameterType == typeof(string) => c => c.GetRouteValue(parameter.Name!)?.ToString(),
        _ => throw new InvalidOperationException($"{parameter.Member.DeclaringType!.Name}.{parameter.Member.Name}: the LocalHost cannot bind parameter '{parameter.Name}' ({parameter.ParameterType.Name})."),
    };
}
