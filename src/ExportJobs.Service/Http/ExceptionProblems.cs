using Azure;
using ExportJobs.Service.Storage;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>
/// The one mapping of an exception that escaped a handler to the answer a client gets, on both hosts (the LocalHost's
/// exception handler, the Function App's worker middleware): a store that did not answer is 503 with
/// <c>Retry-After</c>, a value too large for its store 400 naming it, a body the server could not read its status, and
/// anything else 500 with the trace id and nothing of the exception.
/// </summary>
public static class ExceptionProblems
{
    public static IResult From(Exception exception, string traceId) => exception switch
    {
        ValueTooLargeException e => Problems.Invalid(e.Field, e.Message),
        BadHttpRequestException e when e.StatusCode == StatusCodes.Status413PayloadTooLarge => Problems.TooLarge(0),
        BadHttpRequestException e => Problems.Invalid("body", $"The request could not be read: {e.Message}"),
        _ when IsStoreUnavailable(exception) => Problems.Unavailable("Storage did not answer; retry later."),
        _ => Problems.Internal(traceId),
    };

    /// <summary>Storage unreachable, timing out or overloaded, after the client's own retries (which wrap the last failure).</summary>
    private static bool IsStoreUnavailable(Exception exception) => exception switch
    {
        RequestFailedException e => e.Status is 0 or 408 or 429 or 500 or 502 or 503 or 504,
        AggregateException e => e.InnerExceptions.Count > 0 && e.InnerExceptions.All(IsStoreUnavailable),
        HttpRequestException or TimeoutException or System.Net.Sockets.SocketException => true,
        OperationCanceledException e => e.InnerException is TimeoutException,
        _ => false,
    };
}
