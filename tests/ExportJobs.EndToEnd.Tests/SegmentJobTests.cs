using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// <c>/segment/jobs</c> through the LocalHost: evaluation on its own, its figures against what DuckDB selects from the
/// same people, the memberships it records as an export without evaluation sees them, paging, cancel, and
/// <c>batch_segmentation</c> schedules on two hosts' timers.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class SegmentJobTests(LocalHostFixture host)
{
    /// <summary>Born 1980 or later, North America, more than 3 events (one reads events).</summary>
    private static readonly int[] Chosen = [0, 10, 19];

    private sealed record Population(HttpClient Client, SegmentationData Data, string ProfileDataset, string Output, string ModelFolder);

    private static async Task<Population> PopulateAsync(HttpClient client, int people)
    {
        var data = new SegmentationData(people, DateTimeOffset.UtcNow);
        string profiles = await data.IngestAsync(client);
        return new Population(client, data, profiles, await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false), data.WriteFlatFiles());
    }

    private static async Task<string> DefineAsync(HttpClient client, string name, string pql) =>
        (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("segment/definitions", SegmentationTests.Definition(name, pql)), HttpStatusCode.OK))["id"]!;

    private static async Task<JsonNode> StartAsync(HttpClient client, object body) =>
        await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("segment/jobs", body), HttpStatusCode.OK);

    private static Task<JsonNode> WaitAsync(HttpClient client, string id, Func<string, bool> done) =>
        Poll.UntilAsync(async () => await LocalHostFixture.ReadAsync(await client.GetAsync($"segment/jobs/{id}"), HttpStatusCode.OK),
            job => done((string)job["status"]!), LocalHostFixture.Deadline, $"segment job {id}");

    private static async Task<JsonNode> SucceededAsync(HttpClient client, JsonNode created)
    {
        var job = await WaitAsync(client, (string)created["id"]!, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());
        return job;
    }

    /// <summary>The emails an export that does not evaluate writes for each segment (a batch per segment), from the memberships recorded.</summary>
    private static async Task<List<List<string>>> ExportedMembersAsync(Population p, IReadOnlyList<string> segmentIds)
    {
        var created = await LocalHostFixture.ReadAsync(await p.Client.PostAsJsonAsync("export/jobs", new
        {
            fields = "personalEmail.address",
            filter = new { segments = segmentIds.Select(id => new { segmentId = id }).ToArray() },
            evaluationInfo = new { segmentation = false },
            destination = new { datasetId = p.Output, segmentPerBatch = true },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(p.Client, (long)created["id"]!, s => s is "SUCCEEDED" or "FAILED");
        Assert.Equal("SUCCEEDED", (string)job["status"]!);
        var members = new List<List<string>>();
        foreach (var batch in job["destination"]!["batches"]!.AsArray())
        {
            string local = await ExportEndToEndTests.DownloadBatchAsync(p.Client, p.Output, (string)batch!["batchId"]!);
            members.Add(Directory.GetFiles(local, "*.parquet").Length == 0 ? [] : DuckDb.Query(
                    $"select personalEmail.address from read_parquet('{Path.Combine(local, "*.parquet").Replace("'", "''")}', union_by_name = true)")
                .Select(r => (string)r[0]!).Order(StringComparer.Ordinal).ToList());
        }
        return members;
    }

    [Fact]
    public async Task A_segment_job_counts_what_each_definition_selects_and_records_it_for_exports_that_do_not_evaluate()
    {
        var p = await PopulateAsync(host.Client("segment-jobs"), 300);
        var ids = new List<string>();
        foreach (int i in Chosen) ids.Add(await DefineAsync(p.Client, SegmentationTests.Definitions[i].Name, SegmentationTests.Definitions[i].Pql));

        // The platform's array form.
        var created = await StartAsync(p.Client, ids.Select(id => new { segmentId = id }).ToArray());
        Assert.Equal("NEW", (string)created["status"]!);
        Assert.Equal("api", (string)created["source"]!);
        Assert.Equal(SegmentationTests.Definitions[Chosen[0]].Pql, (string)created["segments"]![0]!["segment"]!["expression"]!["value"]!);
        Assert.Equal($"/segment/jobs/{created["id"]}", (string)created["_links"]!["checkStatus"]!["href"]!);
        var job = await SucceededAsync(p.Client, created);
        long now = (long)job["creationTime"]!;

        var metrics = job["metrics"]!;
        Assert.Equal(p.Data.People.Count, (long)metrics["totalProfiles"]!);
        Assert.Equal(p.Data.People.Count, (long)metrics["totalProfilesByMergePolicy"]!.AsObject().Single().Value!);
        var expected = Chosen.Select(i => SegmentationTests.Expected(p.ModelFolder, SegmentationTests.Definitions[i].Sql, now)).ToList();
        for (int s = 0; s < ids.Count; s++)
        {
            Assert.True(expected[s].Count > 0 && expected[s].Count < p.Data.People.Count, $"{SegmentationTests.Definitions[Chosen[s]].Name} selects {expected[s].Count}");
            Assert.Equal(expected[s].Count, (long)metrics["segmentedProfileCounter"]![ids[s]]!);
            Assert.Equal(expected[s].Count, (long)metrics["segmentedProfileByStatusCounter"]![ids[s]]!["realized"]!);
            Assert.Equal(0, (long)metrics["segmentedProfileByStatusCounter"]![ids[s]]!["exited"]!);
            Assert.Equal(expected[s].Count, (long)metrics["segmentedProfileByNamespaceCounter"]![ids[s]]!["email"]!);
        }
        Assert.Equal(expected, await ExportedMembersAsync(p, ids));

        // Ten members born earlier now: a second job (the object form) counts them as exited, and exports see them leave.
        var changed = expected[0].Take(10).ToList();
        await LocalHostFixture.PostLinesAsync(p.Client, p.ProfileDataset, changed.Select(email => new JsonObject
        {
            ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = email, ["primary"] = true }) },
            ["person"] = new JsonObject { ["birthYear"] = 1900 },
        }.ToJsonString()), gzip: false);
        var again = await SucceededAsync(p.Client, await StartAsync(p.Client, new { schema = new { name = "_xdm.context.profile" }, segments = new[] { new { segmentId = ids[0] } } }));
        Assert.Equal(10, (long)again["metrics"]!["segmentedProfileByStatusCounter"]![ids[0]]!["exited"]!);
        Assert.Equal(expected[0].Count - 10, (long)again["metrics"]!["segmentedProfileCounter"]![ids[0]]!);
        Assert.Equal(expected[0].Except(changed).ToList(), (await ExportedMembersAsync(p, [ids[0]]))[0]);
    }

    [Fact]
    public async Task Segment_jobs_are_listed_newest_first_paged_filtered_cancelled_and_deleted()
    {
        using var client = host.Client("segment-list");
        var p = await PopulateAsync(client, 50);
        string id = await DefineAsync(client, "gold", "loyalty.tier.equals(\"gold\", false)");
        var first = await SucceededAsync(client, await StartAsync(client, new[] { new { segmentId = id } }));
        var second = await SucceededAsync(client, await StartAsync(client, new[] { new { segmentId = "*" } }));
        Assert.Contains(second["segments"]!.AsArray(), s => (string)s!["segmentId"]! == id);

        var page = await LocalHostFixture.ReadAsync(await client.GetAsync("segment/jobs?limit=1&status=SUCCEEDED"), HttpStatusCode.OK);
        Assert.Equal((string)second["id"]!, (string)page["children"]![0]!["id"]!);
        var next = (string)page["_links"]!["next"]!["href"]!;
        var following = await LocalHostFixture.ReadAsync(await client.GetAsync(next.TrimStart('/')), HttpStatusCode.OK);
        Assert.Equal((string)first["id"]!, (string)following["children"]![0]!["id"]!);
        Assert.Equal("status", (string)(await LocalHostFixture.ReadAsync(await client.GetAsync("segment/jobs?status=DONE"), HttpStatusCode.BadRequest))["field"]!);
        Assert.Equal("sort", (string)(await LocalHostFixture.ReadAsync(await client.GetAsync("segment/jobs?sort=name:asc"), HttpStatusCode.BadRequest))["field"]!);

        // Cancelled as soon as created: it ends CANCELLED and the memberships it may have recorded are gone.
        string fresh = await DefineAsync(client, "any points", "loyalty.points > 0");
        var running = await StartAsync(client, new[] { new { segmentId = fresh } });
        var answer = await LocalHostFixture.ReadAsync(await client.DeleteAsync($"segment/jobs/{running["id"]}"), HttpStatusCode.OK);
        Assert.Equal("""{"status":true,"message":"Segment job has been marked for cancelling"}""", answer.ToJsonString());
        Assert.Equal("CANCELLED", (string)(await WaitAsync(client, (string)running["id"]!, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED"))["status"]!);
        Assert.Empty((await ExportedMembersAsync(p, [fresh]))[0]);

        answer = await LocalHostFixture.ReadAsync(await client.DeleteAsync($"segment/jobs/{running["id"]}"), HttpStatusCode.OK);
        Assert.Equal("Segment job has been deleted", (string)answer["message"]!);
        await LocalHostFixture.ReadAsync(await client.GetAsync($"segment/jobs/{running["id"]}"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_batch_segmentation_schedule_runs_one_segment_job_per_due_time_on_two_hosts()
    {
        // A second host on the same storage and task hub: both timers tick every minute.
        await using var second = await LocalHostFixture.StartAsync(TestStorage.Settings(host.Prefix));

        using var client = host.Client("segment-schedule");
        var p = await PopulateAsync(client, 80);
        string id = await DefineAsync(client, "born 1980 or later", SegmentationTests.Definitions[0].Pql);
        var schedule = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/schedules", new
        {
            name = "every minute", type = "batch_segmentation", state = "active", schedule = "0 * * * * ?", properties = new { segments = new[] { "*" } },
        }), HttpStatusCode.OK);
        string scheduleId = (string)schedule["id"]!;

        var jobs = await Poll.UntilAsync(async () => (await LocalHostFixture.ReadAsync(await client.GetAsync("segment/jobs?limit=100"), HttpStatusCode.OK))["children"]!.AsArray(),
            list => list.Count >= 2, TimeSpan.FromSeconds(200), "two runs of the schedule");
        using var patch = new StringContent("""[{"op":"replace","path":"/state","value":"inactive"}]""", Encoding.UTF8, "application/json-patch+json");
        using (var patched = await client.PatchAsync($"config/schedules/{scheduleId}", patch)) Assert.Equal(HttpStatusCode.NoContent, patched.StatusCode);

        var runs = jobs.Select(j => (string)j!["properties"]!["runId"]!).ToList();
        Assert.Equal(runs.Count, runs.Distinct().Count());
        Assert.All(jobs, j => Assert.Equal(scheduleId, (string)j!["properties"]!["scheduleId"]!));
        Assert.All(jobs, j => Assert.Equal("scheduler", (string)j!["source"]!));
        var last = await SucceededAsync(client, jobs[^1]!);
        long now = (long)last["creationTime"]!;
        Assert.Equal(SegmentationTests.Expected(p.ModelFolder, SegmentationTests.Definitions[0].Sql, now).Count, (long)last["metrics"]!["segmentedProfileCounter"]![id]!);
        var read = await LocalHostFixture.ReadAsync(await client.GetAsync($"config/schedules/{scheduleId}"), HttpStatusCode.OK);
        var all = (await LocalHostFixture.ReadAsync(await client.GetAsync("segment/jobs?limit=100"), HttpStatusCode.OK))["children"]!.AsArray();
        Assert.Equal((string)all[0]!["id"]!, ((long)read["lastJobId"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await second.StopAsync();
    }
}
