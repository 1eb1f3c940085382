using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// Incremental exports through the LocalHost: a first run exports the audience, changes are ingested (new members,
/// members who leave, changed attributes, a record that restates what is stored, untouched members), and the next run
/// holds exactly the changes, read back with DuckDB; a run cancelled in between loses none of them.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class IncrementalExportTests(LocalHostFixture host)
{
    private static string Person(int i, string tier, string name) => new JsonObject
    {
        ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = Email(i), ["primary"] = true }) },
        ["personalEmail"] = new JsonObject { ["address"] = Email(i) },
        ["person"] = new JsonObject { ["name"] = new JsonObject { ["firstName"] = name } },
        ["loyalty"] = new JsonObject { ["tier"] = tier },
    }.ToJsonString();

    private static string Email(int i) => $"p{i:D3}@example.com";

    [Fact]
    public async Task The_next_run_holds_exactly_the_changes_since_the_last_successful_one()
    {
        using var client = host.Client("incremental");
        string profiles = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        // People 0–39 gold, 40–59 silver.
        await LocalHostFixture.PostLinesAsync(client, profiles, Enumerable.Range(0, 60).Select(i => Person(i, i < 40 ? "gold" : "silver", $"name{i}")), gzip: false);
        string gold = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("segment/definitions",
            SegmentationTests.Definition("gold", "loyalty.tier = \"gold\"")), HttpStatusCode.OK))["id"]!;

        var first = await RunAsync(client, output, gold, afterJobId: null);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => (Email(i), $"name{i}", "entered")), await RowsAsync(client, output, first));
        Assert.Equal(40, (long)first["metrics"]!["changes"]!["entered"]!);

        await LocalHostFixture.PostLinesAsync(client, profiles, [
            .. Enumerable.Range(60, 3).Select(i => Person(i, "gold", $"name{i}")),      // new members
            .. Enumerable.Range(0, 3).Select(i => Person(i, "silver", $"name{i}")),      // members who leave
            .. Enumerable.Range(3, 3).Select(i => Person(i, "gold", $"renamed{i}")),     // changed attributes
            .. Enumerable.Range(40, 2).Select(i => Person(i, "gold", $"name{i}")),       // silver people who join
            Person(6, "gold", "name6"),                                                 // a record that restates what is stored
        ], gzip: false);

        // A run cancelled in between is no predecessor, and the next run still holds every change.
        var cancelled = await StartAsync(client, output, gold, (long)first["id"]!);
        await LocalHostFixture.ReadAsync(await client.DeleteAsync($"export/jobs/{cancelled["id"]}"), HttpStatusCode.OK);
        Assert.Equal("CANCELLED", (string)(await LocalHostFixture.WaitForJobAsync(client, (long)cancelled["id"]!, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED"))["status"]!);
        var refused = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", Payload(output, gold, (long)cancelled["id"]!)), HttpStatusCode.BadRequest);
        Assert.Equal("incremental.afterJobId", (string)refused["field"]!);

        var second = await RunAsync(client, output, gold, (long)first["id"]!);
        var expected = new List<(string, string, string)>();
        expected.AddRange(Enumerable.Range(0, 3).Select(i => (Email(i), $"name{i}", "exited")));
        expected.AddRange(Enumerable.Range(3, 3).Select(i => (Email(i), $"renamed{i}", "updated")));
        expected.AddRange(Enumerable.Range(40, 2).Select(i => (Email(i), $"name{i}", "entered")));
        expected.AddRange(Enumerable.Range(60, 3).Select(i => (Email(i), $"name{i}", "entered")));
        Assert.Equal(expected.Order(), await RowsAsync(client, output, second));
        var changes = second["metrics"]!["changes"]!;
        Assert.Equal((5, 3, 3), ((long)changes["entered"]!, (long)changes["exited"]!, (long)changes["updated"]!));
        Assert.Equal(11, (long)second["metrics"]!["totalExportedProfileCounter"]!);

        // Nothing changed since: the run after holds no row.
        var third = await RunAsync(client, output, gold, (long)second["id"]!);
        Assert.Empty(await RowsAsync(client, output, third));

        // A run of another audience cannot diff against these.
        var other = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", Payload(output, gold, (long)third["id"]!, fields: "personalEmail.address")), HttpStatusCode.BadRequest);
        Assert.Contains("another audience", (string)other["detail"]!);
    }

    private static object Payload(string output, string segment, long? afterJobId, string fields = "personalEmail.address,person.name.firstName") => new
    {
        fields,
        filter = new { segments = new[] { new { segmentId = segment } } },
        evaluationInfo = new { segmentation = true },
        destination = new { datasetId = output },
        schema = new { name = "_xdm.context.profile" },
        incremental = afterJobId is null ? new { } : (object)new { afterJobId },
    };

    private static async Task<JsonNode> StartAsync(HttpClient client, string output, string segment, long? afterJobId) =>
        await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", Payload(output, segment, afterJobId)), HttpStatusCode.OK);

    private static async Task<JsonNode> RunAsync(HttpClient client, string output, string segment, long? afterJobId)
    {
        var created = await StartAsync(client, output, segment, afterJobId);
        var job = await LocalHostFixture.WaitForJobAsync(client, (long)created["id"]!, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());
        return job;
    }

    private static async Task<List<(string Email, string Name, string Change)>> RowsAsync(HttpClient client, string output, JsonNode job)
    {
        string local = await ExportEndToEndTests.DownloadBatchAsync(client, output, (string)job["destination"]!["batchId"]!);
        if (Directory.GetFiles(local, "*.parquet").Length == 0) return [];
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        return DuckDb.Query($"select personalEmail.address, person.name.firstName, _change from read_parquet('{files}', union_by_name = true) order by 1")
            .Select(r => ((string)r[0]!, (string)r[1]!, (string)r[2]!)).ToList();
    }
}
