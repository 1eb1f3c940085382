using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.TestSupport;

/// <summary>A tenant's view of the handlers: builds a request as a host would, runs a handler, reads the wire answer.</summary>
public sealed class HandlerCall(IServiceProvider services, string org = "1BD6382559DF0C130A49422D@AdobeOrg", string sandbox = "prod")
{
    public string Org => org;
    public string Sandbox => sandbox;

    public HttpRequest Request(string? body = null, string? query = null)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Headers[RequestReading.OrgHeader] = org;
        context.Request.Headers[RequestReading.SandboxHeader] = sandbox;
        context.Request.Headers.Authorization = "Bearer " + TestAccess.Token([org]);
        context.Request.Headers[ApiAccess.ApiKeyHeader] = TestAccess.ClientId;
        if (query is not null) context.Request.QueryString = new QueryString(query);
        if (body is not null)
        {
            context.Request.ContentType = "application/json";
            context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes(body));
        }
        context.Response.Body = new MemoryStream();
        return context.Request;
    }

    /// <summary>Runs <paramref name="handler"/> on a request and returns the status and JSON body a client would see.</summary>
    public async Task<(int Status, JsonNode? Body)> SendAsync(Func<HttpRequest, Task<IResult>> handler, string? body = null, string? query = null)
    {
        var request = Request(body, query);
        var result = await handler(request);
        return await ReadAsync(result, request.HttpContext);
    }

    public static async Task<(int Status, JsonNode? Body)> ReadAsync(IResult result, HttpContext context)
    {
        await result.ExecuteAsync(context);
        context.Response.Body.Position = 0;
        string text = await new StreamReader(context.Response.Body).ReadToEndAsync();
        return (context.Response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }
}
