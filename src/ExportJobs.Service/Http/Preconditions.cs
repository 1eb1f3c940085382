using Azure;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>
/// Optimistic concurrency over HTTP for the replaceable resources (merge policies, segment definitions, schedules):
/// answers carry <c>ETag</c>; a write with <c>If-Match</c> applies only to that version (412 otherwise); a write
/// without it still never loses a concurrent one (the stores compare and swap).
/// </summary>
public static class Preconditions
{
    public const string IfMatchHeader = "If-Match";

    /// <summary>The request's <c>If-Match</c> (null when absent or <c>*</c>).</summary>
    public static ETag? IfMatch(HttpRequest request) =>
        request.Headers.IfMatch.ToString().Trim() is { Length: > 0 } value && value != "*" ? new ETag(value) : null;

    public static IResult WithETag(IResult result, ETag etag) => new HeaderResult(result, "ETag", etag.ToString());

    /// <summary>The answer to a compare-and-swap that did not replace: 404, or 412 for a stale <c>If-Match</c>.</summary>
    public static IResult Refused(RecordJson.ReplaceOutcome outcome, Func<IResult> notFound) => outcome == RecordJson.ReplaceOutcome.Stale
        ? Problems.PreconditionFailed("The resource changed since the version in If-Match; read it again and reapply the change.")
        : notFound();
}
