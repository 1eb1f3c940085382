using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>Datasets with schemas: what ingestion refuses, which fields a job may name, and the Parquet schema exports get.</summary>
[Collection(LocalHostCollection.Name)]
public class SchemaTests(LocalHostFixture host)
{
    private static readonly JsonObject Definition = JsonNode.Parse("""
        {"type":"object","properties":{
          "personalEmail":{"type":"object","properties":{"address":{"type":"string"}}},
          "person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"}}},"birthDate":{"type":"string","format":"date-time"}}},
          "loyalty":{"type":"object","properties":{"points":{"type":"integer"},"tier":{"type":"string"}}}
        }}
        """)!.AsObject();

    private static string Line(int i) => new JsonObject
    {
        ["identityMap"] = new JsonObject { ["ecid"] = new JsonArray(new JsonObject { ["id"] = $"s{i}" }) },
        ["personalEmail"] = new JsonObject { ["address"] = $"s{i}@example.com" },
        ["person"] = new JsonObject { ["name"] = new JsonObject { ["firstName"] = $"F{i}" }, ["birthDate"] = $"19{50 + i % 50}-01-02T03:04:05Z" },
        ["loyalty"] = i % 50 == 0 ? new JsonObject { ["points"] = i, ["tier"] = "gold" } : null,
    }.ToJsonString();

    private async Task<(HttpClient Client, string Dataset, string Output, JsonNode Batch)> SetUpAsync()
    {
        var client = host.Client("schemas");
        var dataset = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets",
            new { name = "typed", schema = new { name = "_xdm.context.profile", definition = Definition }, profileEnabled = true }), HttpStatusCode.Created))["id"]!;
        var lines = Enumerable.Range(0, 300).Select(Line).ToList();
        lines.Insert(5, """{"identityMap":{"ecid":[{"id":"bad1"}]},"loyalty":{"points":"many"}}""");
        lines.Insert(9, """{"identityMap":{"ecid":[{"id":"bad2"}]},"person":{"nickname":"x"}}""");
        var batch = await LocalHostFixture.PostLinesAsync(client, dataset, lines, gzip: false);
        return (client, dataset, await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false), batch);
    }

    [Fact]
    public async Task Schemas_reject_what_does_not_fit_refuse_unknown_fields_and_type_every_part_alike()
    {
        var (client, _, output, batch) = await SetUpAsync();

        Assert.Equal(300, (long)batch["recordsAccepted"]!);
        var errors = batch["errors"]!.AsArray();
        Assert.Equal([6L, 10L], errors.Select(e => (long)e!["line"]!));
        Assert.Contains("loyalty.points: expected an integer", (string)errors[0]!["reason"]!);
        Assert.Contains("person.nickname: not in the schema", (string)errors[1]!["reason"]!);

        var refused = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", new
        {
            fields = "personalEmail.address,person.name.lastName",
            destination = new { datasetId = output },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.BadRequest);
        Assert.Equal("fields", (string)refused["field"]!);
        Assert.Contains("person.name.lastName", (string)refused["detail"]!);

        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", new
        {
            fields = "personalEmail.address,person,loyalty",
            destination = new { datasetId = output },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(client, (long)created["id"]!, s => s is "SUCCEEDED" or "FAILED");
        Assert.Equal("SUCCEEDED", (string)job["status"]!);

        string local = await ExportEndToEndTests.DownloadBatchAsync(client, output, (string)job["destination"]!["batchId"]!);
        var parts = Directory.GetFiles(local, "*.parquet");
        Assert.True(parts.Length > 1, "several parts to compare");
        var schemas = parts.Select(file => string.Join("; ", DuckDb.Query($"describe select * from read_parquet('{file.Replace("'", "''")}')")
            .Select(r => $"{r[0]} {r[1]}"))).Distinct().ToList();
        var schema = Assert.Single(schemas);
        Assert.Contains("loyalty STRUCT(points BIGINT, tier VARCHAR)", schema);
        Assert.Contains("birthDate TIMESTAMP", schema);

        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        var totals = DuckDb.Query($"select count(*), sum(loyalty.points)::bigint, count(loyalty.tier), min(person.birthDate) from read_parquet('{files}')")[0];
        Assert.Equal(300L, Convert.ToInt64(totals[0]));
        Assert.Equal(Enumerable.Range(0, 300).Where(i => i % 50 == 0).Sum(), Convert.ToInt64(totals[1]));
        Assert.Equal(6L, Convert.ToInt64(totals[2]));
        Assert.Equal(new DateTime(1950, 1, 2, 3, 4, 5), (DateTime)totals[3]!);

        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(local, "manifest.json")))!;
        Assert.Equal("integer", (string)manifest["schemaDefinition"]!["properties"]!["loyalty"]!["properties"]!["points"]!["type"]!);
    }

    [Fact]
    public async Task A_dataset_schema_outside_the_subset_is_refused_with_its_path()
    {
        using var client = host.Client("schemas");
        var problem = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets", new
        {
            name = "bad",
            schema = new { name = "_xdm.context.profile", definition = new { type = "object", properties = new { age = new { type = "integer", minimum = 0 } } } },
        }), HttpStatusCode.BadRequest);
        Assert.Equal("schema.definition.properties.age.minimum", (string)problem["field"]!);
    }
}
