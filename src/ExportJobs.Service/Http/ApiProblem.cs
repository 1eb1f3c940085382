using System.Text.Json.Serialization;
using ExportJobs.Core;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>The one error shape of the API (RFC 9457 problem details, plus the offending field and every problem found).</summary>
public sealed record ApiProblem(string Type, string Title, int Status, string Detail, string? Field, IReadOnlyList<Problem>? Errors);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiProblem))]
internal sealed partial class ProblemJson : JsonSerializerContext;

public static class Problems
{
    public const string ContentType = "application/problem+json";

    public static IResult Invalid(IReadOnlyList<Problem> problems) =>
        Answer(StatusCodes.Status400BadRequest, "validation", "The request is not valid.",
            string.Join(" ", problems.Select(p => p.Message)), problems[0].Field, problems);

    public static IResult Invalid(string field, string message) => Invalid([new Problem(field, message)]);

    public static IResult NotFound(string field, string detail) =>
        Answer(StatusCodes.Status404NotFound, "not-found", "Not found.", detail, field, null);

    /// <summary>401, with the <c>WWW-Authenticate: Bearer</c> challenge.</summary>
    public static IResult Unauthorized(string detail) => new HeaderResult(
        Answer(StatusCodes.Status401Unauthorized, "unauthorized", "Authentication failed.", detail, "Authorization", null),
        "WWW-Authenticate", "Bearer");

    public static IResult Forbidden(string field, string detail) =>
        Answer(StatusCodes.Status403Forbidden, "forbidden", "Not allowed.", detail, field, null);

    public static IResult TooLarge(long limit) =>
        Answer(StatusCodes.Status413PayloadTooLarge, "payload-too-large", "The body is too large.", $"The body is larger than {limit} bytes.", "body", null);

    public static IResult Conflict(string field, string detail) =>
        Answer(StatusCodes.Status409Conflict, "conflict", "The request conflicts with one in progress.", detail, field, null);

    public static IResult Unprocessable(string field, string detail) =>
        Answer(StatusCodes.Status422UnprocessableEntity, "unprocessable", "The request cannot be processed.", detail, field, null);

    public static IResult UnsupportedMediaType(string detail) =>
        Answer(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported media type.", detail, "Content-Type", null);

    public static IResult Unavailable(string detail) =>
        Answer(StatusCodes.Status503ServiceUnavailable, "unavailable", "The service could not complete the request.", detail, null, null);

    private static IResult Answer(int status, string type, string title, string detail, string? field, IReadOnlyList<Problem>? errors) =>
        Results.Json(new ApiProblem($"/problems/{type}", title, status, detail, field, errors), ProblemJson.Default.ApiProblem, ContentType, status);
}

/// <summary>An answer with one more header.</summary>
public sealed class HeaderResult(IResult inner, string name, string value) : IResult
{
    public Task ExecuteAsync(HttpContext context)
    {
        context.Response.Headers[name] = value;
        return inner.ExecuteAsync(context);
    }
}
