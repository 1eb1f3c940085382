using System.Text.Json.Serialization;
using ExportJobs.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace ExportJobs.Service.Http;

/// <summary>The one error shape of the API (RFC 9457 problem details, plus the offending field and every problem found).</summary>
public sealed record ApiProblem(string Type, string Title, int Status, string Detail, string? Field, IReadOnlyList<Problem>? Errors);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ApiProblem))]
internal sealed partial class ProblemJson : JsonSerializerContext;

public static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>
    /// At most this many problems are listed, each said once: a body of 1,500 bad entries gets its few distinct
    /// problems, not an answer of a thousand copies; the detail says how many more there were.
    /// </summary>
    public const int MaxListedProblems = 100;

    public static IResult Invalid(IReadOnlyList<Problem> problems)
    {
        var distinct = problems.Distinct().ToList();
        var listed = distinct.Take(MaxListedProblems).ToList();
        string detail = string.Join(" ", listed.Select(p => p.Message).Distinct(StringComparer.Ordinal));
        if (distinct.Count > listed.Count) detail += $" ({distinct.Count - listed.Count} more problems not listed.)";
        return Answer(StatusCodes.Status400BadRequest, "validation", "The request is not valid.", detail, listed[0].Field, listed);
    }

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

    public static IResult UnsupportedMediaType(string detail, string header = "Content-Type") =>
        Answer(StatusCodes.Status415UnsupportedMediaType, "unsupported-media-type", "Unsupported media type.", detail, header, null);

    /// <summary>503 with <c>Retry-After</c>: a store the service depends on did not answer; nothing was changed by halves.</summary>
    public static IResult Unavailable(string detail, int retryAfterSeconds = 5) => new HeaderResult(
        Answer(StatusCodes.Status503ServiceUnavailable, "unavailable", "The service could not complete the request.", detail, null, null),
        "Retry-After", retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>500 for the unexpected: no internals, only the trace id to find it in the logs by.</summary>
    public static IResult Internal(string traceId) =>
        Answer(StatusCodes.Status500InternalServerError, "internal", "The service failed to complete the request.",
            $"An unexpected error occurred; it was logged with trace id {traceId}.", null, null);

    public static IResult MethodNotAllowed(string method, IEnumerable<string> allowed) => new HeaderResult(
        Answer(StatusCodes.Status405MethodNotAllowed, "method-not-allowed", "Method not allowed.",
            $"{method} is not allowed here; allowed: {string.Join(", ", allowed)}.", "method", null),
        "Allow", string.Join(", ", allowed));

    /// <summary>A bodiless error status the server itself produced, given a problem body.</summary>
    public static IResult Status(int status) =>
        Answer(status, "http-" + status.ToString(System.Globalization.CultureInfo.InvariantCulture), ReasonPhrases.GetReasonPhrase(status), ReasonPhrases.GetReasonPhrase(status) + ".", null, null);

    public static IResult PreconditionFailed(string detail) =>
        Answer(StatusCodes.Status412PreconditionFailed, "precondition-failed", "The resource has changed.", detail, "If-Match", null);

    private static IResult Answer(int status, string type, string title, string detail, string? field, IReadOnlyList<Problem>? errors) =>
        Results.Json(new ApiProblem($"/problems/{type}", title, status, detail, field, errors), ProblemJson.Default.ApiProblem, ContentType, status);
}

/// <summary>An answer with one more header.</summary>
public sealed class HeaderResult(IResult inner, string name, string value) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.Headers[name] = value;
        return inner.ExecuteAsync(httpContext);
    }
}
