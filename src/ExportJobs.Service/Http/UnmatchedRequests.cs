using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;

namespace ExportJobs.Service.Http;

/// <summary>
/// The answer to a request no endpoint took: 405 with <c>Allow</c> when its path is a route of the API under another
/// method, else 404, both as problem+json. Each host gives the routes it serves (method and template), read from its
/// own endpoint declarations.
/// </summary>
public sealed class UnmatchedRequests(IEnumerable<(string Method, string Template)> routes)
{
    private readonly List<(TemplateMatcher Matcher, string[] Methods)> _routes = routes
        .GroupBy(r => r.Template, StringComparer.Ordinal)
        .Select(g => (new TemplateMatcher(TemplateParser.Parse(g.Key), new RouteValueDictionary()), g.Select(r => r.Method.ToUpperInvariant()).Distinct().Order().ToArray()))
        .ToList();

    public IResult Answer(HttpRequest request)
    {
        string path = request.PathBase.Add(request.Path).Value ?? "/";
        var allowed = _routes.Where(r => r.Matcher.TryMatch(new PathString(path), new RouteValueDictionary())).SelectMany(r => r.Methods).Distinct().Order().ToList();
        if (allowed.Count > 0 && !allowed.Contains(request.Method, StringComparer.OrdinalIgnoreCase))
            return Problems.MethodNotAllowed(request.Method, allowed);
        return Problems.NotFound("path", $"There is no {request.Method} {path}.");
    }
}
