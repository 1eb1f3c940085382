using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Console;

/// <summary>
/// The operations console (docs/console.md): static files embedded in this assembly at build time and served as they
/// are, under a policy that lets a page load only this app's own scripts and styles and talk only to this origin. The
/// console calls the API with the user's own credentials; nothing here reads them.
/// </summary>
public sealed class ConsoleFiles
{
    private const string ResourcePrefix = "ExportJobs.Service.Console.wwwroot.";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    private const string Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    private readonly Dictionary<string, byte[]> _files = Load();

    private static Dictionary<string, byte[]> Load()
    {
        var assembly = typeof(ConsoleFiles).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[ResourcePrefix.Length..]] = copy.ToArray();
        }
        return files;
    }

    /// <summary>The names the console has (for its tests and for the size it adds).</summary>
    public IReadOnlyDictionary<string, byte[]> Files => _files;

    /// <summary>A file by its name under <c>/console/</c>; the page itself for <c>/console</c> and <c>/console/</c>; 404 otherwise.</summary>
    public IResult Serve(HttpResponse response, string? path)
    {
        string name = string.IsNullOrEmpty(path) ? "index.html" : path;
        if (!_files.TryGetValue(name, out var bytes) || !ContentTypes.TryGetValue(Path.GetExtension(name), out var type))
            return Http.Problems.NotFound("path", $"The console has no file '{name}'.");
        response.Headers.ContentSecurityPolicy = Policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.CacheControl = "no-cache";
        return Results.Bytes(bytes, type);
    }
}
