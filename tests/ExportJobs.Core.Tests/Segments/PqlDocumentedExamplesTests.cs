using System.Text.Json.Nodes;
using ExportJobs.Core.Segments;

namespace ExportJobs.Core.Tests.Segments;

/// <summary>
/// Every example expression of the public PQL pages (PqlDocumentedExamples.json; the filter-functions and sample-queries
/// pages have none), written as the pages write them, with the profile and events each needs: it evaluates to what the
/// page says, or it is refused with a 400 that names what is not supported.
/// </summary>
public sealed class PqlDocumentedExamplesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    public static TheoryData<string, string> Examples()
    {
        var data = new TheoryData<string, string>();
        foreach (var example in JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Segments", "PqlDocumentedExamples.json")))!.AsArray())
            data.Add((string)example!["page"]!, (string)example["expression"]!);
        return data;
    }

    private static JsonObject Example(string expression) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Segments", "PqlDocumentedExamples.json")))!.AsArray()
            .Single(e => (string)e!["expression"]! == expression)!.AsObject();

    [Theory]
    [MemberData(nameof(Examples))]
    public void A_documented_example_evaluates_as_its_page_says_or_is_refused_by_name(string page, string expression)
    {
        var example = Example(expression);
        if (example["refused"] is { } refused)
        {
            var e = Assert.Throws<PqlException>(() => PqlCompiler.CompileValue(expression));
            Assert.Contains((string)refused!, e.Reason);
            return;
        }
        var events = example["events"]?.AsArray().Select(e => e!.AsObject()).ToList() ?? [];
        var result = PqlCompiler.CompileValue(expression).Value(example["profile"]!.AsObject(), events, Now);
        Assert.True(JsonNode.DeepEquals(example["expected"], ToJson(result)), $"{page}: {expression} gave {ToJson(result)?.ToJsonString()}");
    }

    /// <summary>A PQL value as JSON: numbers, strings, booleans, lists and objects as themselves.</summary>
    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        bool b => JsonValue.Create(b),
        double d => d == Math.Floor(d) && Math.Abs(d) < 1e15 ? JsonValue.Create((long)d) : JsonValue.Create(d),
        string s => JsonValue.Create(s),
        DateTimeOffset date => JsonValue.Create(date.ToString("o", System.Globalization.CultureInfo.InvariantCulture)),
        JsonNode node => node.DeepClone(),
        List<object?> list => new JsonArray(list.Select(ToJson).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
