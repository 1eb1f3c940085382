using System.Text.Json.Nodes;
using Azure;
using ExportJobs.Core;
using ExportJobs.Service.Http;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace ExportJobs.Functions.Tests;

/// <summary>Every error a client can get is problem+json: exceptions (both hosts share the mapping) and requests no function takes.</summary>
public class ProblemAnswerTests
{
    private static async Task<(int Status, JsonNode Body, HttpResponse Response)> ExecuteAsync(IResult result)
    {
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        context.Response.Body = new MemoryStream();
        await result.ExecuteAsync(context);
        context.Response.Body.Position = 0;
        Assert.Equal(Problems.ContentType, context.Response.ContentType);
        return (context.Response.StatusCode, (await JsonNode.ParseAsync(context.Response.Body))!, context.Response);
    }

    public static TheoryData<Exception, int> Exceptions() => new()
    {
        { new RequestFailedException(0, "Connection refused"), 503 },
        { new AggregateException(new RequestFailedException(503, "Server busy"), new RequestFailedException(500, "Internal")), 503 },
        { new HttpRequestException("Connection refused"), 503 },
        { new ValueTooLargeException("mergePolicy", "The mergePolicy is 40000 characters as stored; at most 32768 are kept."), 400 },
        { new RequestFailedException(409, "Conflict"), 500 },
        { new InvalidOperationException("secret internals: connection string AccountKey=..."), 500 },
    };

    [Theory]
    [MemberData(nameof(Exceptions))]
    public async Task An_exception_becomes_one_problem_answer_without_internals(Exception exception, int status)
    {
        var (code, body, response) = await ExecuteAsync(ExceptionProblems.From(exception, "trace-42"));
        Assert.Equal(status, code);
        Assert.Equal(status, (int)body["status"]!);
        Assert.DoesNotContain("internals", body.ToJsonString());
        if (status == 503) Assert.Equal("5", response.Headers.RetryAfter.ToString());
        if (status == 500) Assert.Contains("trace-42", (string)body["detail"]!);
        if (exception is ValueTooLargeException) Assert.Equal("mergePolicy", (string)body["field"]!);
    }

    [Fact]
    public async Task A_validation_answer_lists_each_problem_once_and_at_most_its_bound()
    {
        var repeated = Enumerable.Repeat(new Problem("segments[].segmentId", "segmentId is required."), 1_400).ToList();
        var (status, body, _) = await ExecuteAsync(Problems.Invalid(repeated));
        Assert.Equal(400, status);
        Assert.Single(body["errors"]!.AsArray());
        Assert.Equal("segmentId is required.", (string)body["detail"]!);

        var distinct = Enumerable.Range(0, 250).Select(i => new Problem($"segments[{i}].segmentId", $"There is no segment definition 's{i}'.")).ToList();
        (status, body, _) = await ExecuteAsync(Problems.Invalid(distinct));
        Assert.Equal(Problems.MaxListedProblems, body["errors"]!.AsArray().Count);
        Assert.Equal("segments[99].segmentId", (string)body["errors"]![99]!["field"]!);
        Assert.EndsWith("(150 more problems not listed.)", (string)body["detail"]!);
        Assert.DoesNotContain("'s100'", (string)body["detail"]!);
    }

    [Fact]
    public async Task The_Function_App_middleware_answers_an_HTTP_function_that_throws()
    {
        var http = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        http.Response.Body = new MemoryStream();
        var context = new Mock<FunctionContext>();
        // Where the ASP.NET Core integration keeps the invocation's HttpContext (its GetHttpContext() reads it).
        context.SetupGet(c => c.Items).Returns(new Dictionary<object, object> { ["HttpRequestContext"] = http });
        context.SetupGet(c => c.FunctionDefinition).Returns(Mock.Of<FunctionDefinition>(d => d.Name == "GetExportJob"));
        var middleware = new ExceptionProblemMiddleware(NullLogger<ExceptionProblemMiddleware>.Instance);

        await middleware.Invoke(context.Object, _ => throw new RequestFailedException(0, "Connection refused"));

        Assert.Equal(503, http.Response.StatusCode);
        Assert.Equal(Problems.ContentType, http.Response.ContentType);
    }

    [Theory]
    [InlineData("GET", "/data/core/ups/no/such/thing", 404, null)]
    [InlineData("GET", "/elsewhere", 404, null)]
    [InlineData("PUT", "/data/core/ups/export/jobs", 405, "GET, POST")]
    [InlineData("POST", "/data/core/ups/export/jobs/17", 405, "DELETE, GET")]
    [InlineData("PATCH", "/data/core/ups/config/mergePolicies/p1", 405, "DELETE, GET, PUT")]
    public async Task A_request_no_function_takes_is_404_or_405_with_the_allowed_methods(string method, string path, int status, string? allow)
    {
        var unmatched = new UnmatchedRequests(UnmatchedFunctions.DeclaredRoutes());
        var request = new DefaultHttpContext().Request;
        request.Method = method;
        request.Path = path;
        var (code, body, response) = await ExecuteAsync(unmatched.Answer(request));
        Assert.Equal(status, code);
        Assert.Equal(status == 404 ? "path" : "method", (string)body["field"]!);
        if (allow is not null) Assert.Equal(allow, response.Headers.Allow.ToString());
    }
}
