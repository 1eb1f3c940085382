using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Azure.Functions.Worker;

namespace ExportJobs.Functions.Tests;

/// <summary>
/// The functions.metadata the Functions SDK generates (and publish ships; scripts/test.sh checks the published copy is
/// this one) lists exactly the functions the code declares, HTTP routes and methods included.
/// </summary>
public class FunctionMetadataTests
{
    private static JsonArray Metadata() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "functions.metadata")))!.AsArray();

    [Fact]
    public void The_generated_metadata_lists_every_declared_function_and_nothing_else()
    {
        var declared = typeof(ExportJobFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods()).Select(m => m.GetCustomAttribute<FunctionAttribute>()?.Name).OfType<string>().Order().ToList();
        var listed = Metadata().Select(f => (string)f!["name"]!).Order().ToList();
        Assert.True(declared.Count > 30, $"{declared.Count} functions declared");
        Assert.Equal(declared, listed);
    }

    [Fact]
    public void The_generated_metadata_has_each_HTTP_function_s_route_and_methods()
    {
        var listed = Metadata()
            .SelectMany(f => f!["bindings"]!.AsArray().Where(b => (string)b!["type"]! == "httpTrigger")
                .SelectMany(b => b!["methods"]!.AsArray().Select(m => $"{((string)m!).ToUpperInvariant()} {(string)b["route"]!}")))
            .Order().ToList();
        var declared = UnmatchedFunctions.DeclaredRoutes().Select(r => $"{r.Method} {r.Template}")
            .Concat(new[] { "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS" }.Select(m => $"{m} {UnmatchedFunctions.CatchAllRoute}"))
            .Order().ToList();
        Assert.Equal(declared, listed);
    }
}
