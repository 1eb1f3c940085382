using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Service.Http;

/// <summary>What an ASP.NET Core host (the LocalHost) adds so that every error is problem+json: exceptions, and bodiless 404/405s.</summary>
public static class ApiProblemPipeline
{
    public static IApplicationBuilder UseApiProblems(this IApplicationBuilder app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = context =>
                ExceptionProblems.From(context.Features.Get<IExceptionHandlerFeature>()!.Error, TraceId(context)).ExecuteAsync(context),
        });
        app.UseStatusCodePages(new StatusCodePagesOptions
        {
            HandleAsync = status => status.HttpContext.Response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed
                ? status.HttpContext.RequestServices.GetRequiredService<UnmatchedRequests>().Answer(status.HttpContext.Request).ExecuteAsync(status.HttpContext)
                : Problems.Status(status.HttpContext.Response.StatusCode).ExecuteAsync(status.HttpContext),
        });
        return app;
    }

    public static string TraceId(HttpContext context) => Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier;
}
