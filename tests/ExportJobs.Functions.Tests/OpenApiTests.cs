using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Http;
using ExportJobs.Service.Schedules;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Functions.Tests;

/// <summary>The OpenAPI document: valid OpenAPI 3, every route of both hosts in it, every example accepted by the service's own readers and validators.</summary>
public class OpenApiTests
{
    private static readonly JsonNode Document = JsonNode.Parse(OpenApiDocument.Json)!;

    private static IEnumerable<(string Route, string OperationId, JsonObject Operation)> Operations() =>
        Document["paths"]!.AsObject().SelectMany(path => path.Value!.AsObject().Select(op =>
            ($"{op.Key.ToUpperInvariant()} /{Routes.Prefix}{path.Key}", (string)op.Value!["operationId"]!, op.Value!.AsObject())));

    [Fact]
    public void It_is_a_valid_OpenAPI_3_document()
    {
        var (document, diagnostic) = Microsoft.OpenApi.OpenApiDocument.Parse(OpenApiDocument.Json, "json");
        Assert.NotNull(document);
        Assert.Empty(diagnostic!.Errors);
        Assert.StartsWith("3.", (string)Document["openapi"]!);
    }

    [Fact]
    public void Every_route_both_hosts_expose_is_documented_and_nothing_else()
    {
        var documented = Operations().Select(o => o.Route).Order(StringComparer.Ordinal).ToList();
        static List<string> Api(IEnumerable<string> routes) => routes.Where(r => r.Contains($" /{Routes.Prefix}/", StringComparison.Ordinal)).ToList();
        Assert.Equal(Api(RouteParityTests.FunctionAppRoutes()), documented);
        Assert.Equal(Api(RouteParityTests.LocalHostRoutes()), documented);
    }

    [Fact]
    public void The_operation_ids_are_the_function_names()
    {
        var functionNames = typeof(FunctionNames).GetFields().Select(f => (string)f.GetValue(null)!).ToHashSet();
        Assert.All(Operations(), o => Assert.Contains(o.OperationId, functionNames));
    }

    [Fact]
    public void Every_request_example_is_accepted_by_the_validators()
    {
        int checkedExamples = 0;
        foreach (var (route, operationId, operation) in Operations())
        {
            if (operation["requestBody"]?["content"] is not JsonObject content) continue;
            foreach (var (contentType, media) in content)
            {
                var example = media!["example"];
                Assert.True(example is not null, $"{route} documents no example for {contentType}");
                Assert.True(RequestProblems(operationId, example!) is [], $"{route}: {string.Join(" ", RequestProblems(operationId, example!).Select(p => p.Message))}");
                checkedExamples++;
            }
        }
        Assert.Equal(11, checkedExamples);
    }

    private static IReadOnlyList<Problem> RequestProblems(string operationId, JsonNode example) => operationId switch
    {
        FunctionNames.CreateExportJob => ExportJobRequestValidator.Validate(Read(example, CoreJson.Requests.ExportJobRequest)).Items,
        FunctionNames.CreateDataset => DatasetRequestValidator.Validate(Read(example, CoreJson.Requests.DatasetRequest)).Items,
        FunctionNames.IngestBatch => ((string)example!).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => ProfileRecordParser.TryParse(line, out _, out var reason) ? null : new Problem("body", reason!)).OfType<Problem>().ToList(),
        FunctionNames.CreateMergePolicy or FunctionNames.UpdateMergePolicy => MergePolicyRules.Validate(Read(example, CoreJson.Requests.MergePolicy)).Items,
        FunctionNames.CreateSegmentDefinition => SegmentDefinitionRules.Check(Read(example, CoreJson.Requests.SegmentDefinitionRequest), patch: false, null).Items,
        FunctionNames.PatchSegmentDefinition => SegmentDefinitionRules.Check(Read(example, CoreJson.Requests.SegmentDefinitionRequest), patch: true, null).Items,
        FunctionNames.CreateSegmentJob => SegmentJobRules.Check(example is JsonArray
            ? new SegmentJobRequest { Segments = Read(example, CoreJson.Requests.ListSegmentJobSegmentRequest) }
            : Read(example, CoreJson.Requests.SegmentJobRequest)).Items,
        FunctionNames.CreateSchedule => ScheduleProblems(Read(example, CoreJson.Requests.Schedule)),
        FunctionNames.PutIdentitySettings => IdentitySettings.Check(Read(example, CoreJson.Requests.IdentitySettings)).Items,
        FunctionNames.PatchSchedule => Read(example, CoreJson.Requests.ListPatchOperation)
            .Where(op => op.Op is not ("replace" or "add") || op.Path is not ("/state" or "/schedule")).Select(op => new Problem("op", $"{op.Op} {op.Path}")).ToList(),
        _ => [new Problem("operationId", $"no validator is known for {operationId}'s request example")],
    };

    private static IReadOnlyList<Problem> ScheduleProblems(Schedule schedule)
    {
        var problems = ScheduleRules.CheckFields(schedule);
        ScheduleRules.CheckCron(schedule.Cron, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(1), problems);
        return schedule.Type == ScheduleTypes.Export ? [.. problems.Items, .. ExportJobRequestValidator.Validate(schedule.Properties!).Items] : problems.Items;
    }

    /// <summary>Reads as a request body is read: strictly, so an example with a member the contract lacks fails here.</summary>
    private static T Read<T>(JsonNode example, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(example.ToJsonString(), type)!;

    [Fact]
    public void Every_response_example_has_the_shape_the_service_writes()
    {
        var shapes = new Dictionary<string, Action<string>>
        {
            ["ExportJob"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.ExportJob),
            ["ExportJobPage"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.ExportJobPage),
            ["DeleteAnswer"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.DeleteAnswer),
            ["MergePolicy"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.MergePolicy),
            ["SegmentDefinition"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.SegmentDefinition),
            ["SegmentDefinitionList"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.SegmentDefinitionList),
            ["Schedule"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.Schedule),
            ["IdentitySettings"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.IdentitySettings),
            ["SegmentJob"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.SegmentJob),
            ["SegmentJobList"] = json => Read(JsonNode.Parse(json)!, CoreJson.Requests.SegmentJobList),
        };
        int checkedExamples = 0;
        foreach (var (route, _, operation) in Operations())
        foreach (var (_, response) in operation["responses"]!.AsObject())
        {
            if (response?["content"]?["application/json"] is not { } media || media["example"] is not { } example) continue;
            string schema = ((string)media["schema"]!["$ref"]!).Split('/')[^1];
            Assert.True(shapes.ContainsKey(schema), $"{route}: no reader for {schema}");
            shapes[schema](example.ToJsonString());
            checkedExamples++;
        }
        Assert.True(checkedExamples >= 12, $"{checkedExamples} response examples");
    }

    [Fact]
    public async Task The_Function_App_serves_the_document()
    {
        var result = await OpenApiFunctions.Get(new DefaultHttpContext().Request);
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        context.Response.Body = new MemoryStream();
        await result.ExecuteResultAsync(new ActionContext { HttpContext = context });
        context.Response.Body.Position = 0;
        Assert.Equal(OpenApiDocument.Json, await new StreamReader(context.Response.Body).ReadToEndAsync());
        Assert.StartsWith("application/json", context.Response.ContentType);
    }
}
