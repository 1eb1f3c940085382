using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ExportJobs.Core;
using ExportJobs.Core.Tenancy;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>What every handler reads from a request: the tenant headers and the body.</summary>
public static class RequestReading
{
    public const string OrgHeader = "x-gw-ims-org-id";
    public const string SandboxHeader = "x-sandbox-name";

    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The request's <c>Idempotency-Key</c> (null when it has none), or the problem with it.</summary>
    public static bool TryGetIdempotencyKey(HttpRequest request, out string? key, out IResult? problem)
    {
        key = request.Headers[IdempotencyKeyHeader];
        problem = null;
        if (key is null || (key.Length is > 0 and <= 128 && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))) return true;
        problem = Problems.Invalid(IdempotencyKeyHeader, $"{IdempotencyKeyHeader} is 1 to 128 characters of [A-Za-z0-9_-].");
        return false;
    }

    /// <summary>The tenant named by the headers, or the problem with them.</summary>
    public static bool TryGetTenant(HttpRequest request, out Tenant tenant, out IResult problem)
    {
        tenant = null!;
        problem = null!;
        string? org = request.Headers[OrgHeader];
        string? sandbox = request.Headers[SandboxHeader];
        var problems = new ProblemList();
        if (string.IsNullOrEmpty(org)) problems.Add(OrgHeader, $"The {OrgHeader} header is required.");
        else if (!Ids.IsOrgId(org)) problems.Add(OrgHeader, $"The {OrgHeader} header must be 1 to 64 characters of [A-Za-z0-9@._-].");
        if (string.IsNullOrEmpty(sandbox)) problems.Add(SandboxHeader, $"The {SandboxHeader} header is required.");
        else if (!Ids.IsSandbox(sandbox)) problems.Add(SandboxHeader, $"The {SandboxHeader} header must be 1 to 63 characters of [a-z0-9-].");
        if (!problems.IsEmpty)
        {
            problem = Problems.Invalid(problems.Items);
            return false;
        }
        tenant = new Tenant(org!, sandbox!);
        return true;
    }

    /// <summary>
    /// Reads a JSON body of at most <paramref name="maxBytes"/> into <typeparamref name="T"/>, strictly: unknown and
    /// duplicate members, and values of the wrong type, are problems naming their path.
    /// </summary>
    public static async Task<(T? Value, IResult? Problem)> ReadJsonAsync<T>(HttpRequest request, JsonTypeInfo<T> type, long maxBytes, CancellationToken ct) where T : class
    {
        if (MediaTypeOf(request) is not { } mediaType ||
            !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/merge-patch+json", StringComparison.OrdinalIgnoreCase)))
            return (null, Problems.UnsupportedMediaType("The body must be sent as Content-Type: application/json."));
        if (request.ContentLength > maxBytes) return (null, Problems.TooLarge(maxBytes));
        try
        {
            var value = await JsonSerializer.DeserializeAsync(new BodyLimitStream(request.Body, maxBytes), type, ct);
            return value is null ? (null, Problems.Invalid("body", "The body must be a JSON object.")) : (value, null);
        }
        catch (BodyLimitStream.ExceededException)
        {
            return (null, Problems.TooLarge(maxBytes));
        }
        catch (JsonException e)
        {
            return (null, Problems.Invalid(FieldOf(e), $"The body is not JSON of the expected shape at '{e.Path ?? "$"}'."));
        }
    }

    /// <summary>The field a JSON reading error names: its path without the leading <c>$.</c>, or <c>body</c>.</summary>
    public static string FieldOf(JsonException e) => string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');

    /// <summary>The request's <c>x-request-id</c> when it gives one well formed, else a new one.</summary>
    public static string RequestIdOf(HttpRequest request) =>
        request.Headers["x-request-id"] is { Count: 1 } given && Ids.IsRequestId(given.ToString()) ? given.ToString() : Guid.NewGuid().ToString();

    /// <summary>The <c>start</c>/<c>limit</c> paging of the configuration lists (schedules, segment definitions); a 400 when either is out of range.</summary>
    public static (int Start, int Limit, IResult? Problem) ReadOffsetPage(HttpRequest request, int defaultLimit, int maxLimit)
    {
        var problems = new ProblemList();
        int start = QueryInt(request, "start", 0, 0, int.MaxValue, problems);
        int limit = QueryInt(request, "limit", defaultLimit, 1, maxLimit, problems);
        return (start, limit, problems.IsEmpty ? null : Problems.Invalid(problems.Items));
    }

    /// <summary>An integer query parameter from <paramref name="min"/> to <paramref name="max"/>; <paramref name="fallback"/> when absent.</summary>
    private static int QueryInt(HttpRequest request, string name, int fallback, int min, int max, ProblemList problems)
    {
        string? text = request.Query[name];
        if (text is null) return fallback;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int value) && value >= min && value <= max)
            return value;
        problems.Add(name, $"{name} must be an integer from {min} to {max}.");
        return fallback;
    }

    /// <summary>The media types an ingestion body may be sent as: NDJSON, or gzip of it.</summary>
    public static readonly IReadOnlyList<string> NdjsonTypes = ["application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/gzip"];

    /// <summary>
    /// An ingestion body as a stream of NDJSON bytes, or the problem with it: 415 for a media type that is not NDJSON (or
    /// gzip) or a <c>Content-Encoding</c> other than gzip or identity; 413 when <c>Content-Length</c> is over
    /// <paramref name="maxBytes"/>. A gzip body (Content-Encoding gzip, or Content-Type application/gzip) is inflated and
    /// checked whole (<see cref="GzipBodyStream"/>). Reading past <paramref name="maxBytes"/>, as sent or as inflated, throws
    /// <see cref="BodyLimitStream.ExceededException"/> as soon as it happens.
    /// </summary>
    public static (Stream? Body, IResult? Problem) OpenNdjson(HttpRequest request, long maxBytes)
    {
        string mediaType = MediaTypeOf(request) ?? "";
        if (!NdjsonTypes.Contains(mediaType, StringComparer.OrdinalIgnoreCase))
            return (null, Problems.UnsupportedMediaType($"An ingestion body is NDJSON: Content-Type one of {string.Join(", ", NdjsonTypes)}."));
        string encoding = request.Headers.ContentEncoding.ToString().Trim();
        bool gzip = encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/gzip", StringComparison.OrdinalIgnoreCase);
        if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase) && !encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
            return (null, Problems.UnsupportedMediaType("Content-Encoding is gzip or identity.", "Content-Encoding"));
        if (request.ContentLength > maxBytes) return (null, Problems.TooLarge(maxBytes));
        Stream body = new BodyLimitStream(request.Body, maxBytes);
        if (gzip) body = new BodyLimitStream(new GzipBodyStream(body), maxBytes, disposeInner: true);
        return (body, null);
    }

    /// <summary>The <c>Content-Type</c> without its parameters (<c>charset</c> and the like); null when absent.</summary>
    private static string? MediaTypeOf(HttpRequest request) => request.ContentType?.Split(';')[0].Trim();
}
