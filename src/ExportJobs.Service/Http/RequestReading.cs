using System.IO.Compression;
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

    /// <summary>Reads a JSON body into <typeparamref name="T"/>; a body that is missing or not of the contract's shape is a problem naming the path.</summary>
    public static async Task<(T? Value, IResult? Problem)> ReadJsonAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        if (request.ContentType is { } contentType && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return (null, Problems.UnsupportedMediaType("The body must be application/json."));
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, type, ct);
            return value is null ? (null, Problems.Invalid("body", "The body must be a JSON object.")) : (value, null);
        }
        catch (JsonException e)
        {
            string path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "body" : e.Path.TrimStart('$', '.');
            return (null, Problems.Invalid(path, $"The body is not JSON of the expected shape at '{e.Path ?? "$"}'."));
        }
    }

    /// <summary>The body as text lines; a gzip body (Content-Encoding: gzip, or Content-Type application/gzip) is inflated.</summary>
    public static StreamReader OpenText(HttpRequest request)
    {
        bool gzip = string.Equals(request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase) ||
                    (request.ContentType?.StartsWith("application/gzip", StringComparison.OrdinalIgnoreCase) ?? false);
        Stream body = gzip ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
        return new StreamReader(body, detectEncodingFromByteOrderMarks: true);
    }
}
