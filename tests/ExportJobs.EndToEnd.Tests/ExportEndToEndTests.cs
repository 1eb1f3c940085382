using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class ExportEndToEndTests(LocalHostFixture host)
{
    private static object Payload(string datasetId, string segment, string? fields) => new
    {
        fields,
        filter = new { segments = new[] { new { segmentId = segment, segmentNs = "ups", status = new[] { "realized" } } } },
        destination = new { datasetId, segmentPerBatch = false },
        schema = new { name = "_xdm.context.profile" },
    };

    [Fact]
    public async Task Ingestion_keeps_good_lines_and_reports_each_bad_one()
    {
        var (dataset, first, second) = await host.IngestProfilesOnceAsync();
        Assert.Equal(5_000, (long)first["recordsAccepted"]!);
        Assert.Equal(2, (long)first["recordsRejected"]!);
        var errors = first["errors"]!.AsArray();
        Assert.Equal([11L, 21L], errors.Select(e => (long)e!["line"]!));
        Assert.Contains("not valid JSON", (string)errors[0]!["reason"]!);
        Assert.Contains("identityMap", (string)errors[1]!["reason"]!);
        Assert.Equal(host.Profiles.Profiles.Count(p => p.Index % 3 == 1 || p.Index % 7 == 0), (long)second["recordsAccepted"]!);

        using var client = host.Client();
        var readBack = await LocalHostFixture.ReadAsync(await client.GetAsync($"datasets/{dataset}/batches/{(string)first["id"]!}"), HttpStatusCode.OK);
        Assert.Equal(first.ToJsonString(), readBack.ToJsonString());
    }

    [Fact]
    public async Task An_export_of_one_segment_matches_the_ingested_profiles_row_by_row()
    {
        var (_, _, _) = await host.IngestProfilesOnceAsync();
        using var client = host.Client();
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);

        var created = await LocalHostFixture.ReadAsync(
            await client.PostAsJsonAsync("export/jobs", Payload(output, "seg-b", "identities.id,personalEmail.address,person.name.firstName")), HttpStatusCode.OK);
        Assert.Equal("NEW", (string)created["status"]!);
        Assert.Equal("BATCH", (string)created["jobType"]!);
        long id = (long)created["id"]!;
        var seen = new List<string>();
        var job = await LocalHostFixture.WaitForJobAsync(client, id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED", seen);
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());
        Assert.Equal("SUCCEEDED", seen[^1]);

        var expected = host.Profiles.MembersOf("seg-b").OrderBy(p => p.Email, StringComparer.Ordinal).ToList();
        var metrics = job["metrics"]!;
        long total = (long)metrics["totalExportedProfileCounter"]!;
        var byNamespace = metrics["exportedProfileByNamespaceCounter"]!.AsObject().ToDictionary(kv => kv.Key, kv => (long)kv.Value!);
        Assert.Equal(expected.Count, total);
        Assert.Equal(total, byNamespace.Values.Sum());
        Assert.Equal(expected.GroupBy(p => p.Namespace).ToDictionary(g => g.Key, g => (long)g.Count()), byNamespace);
        foreach (var timing in new[] { "totalTime", "profileExportTime" })
            Assert.Equal((long)metrics[timing]!["endTimeInMs"]! - (long)metrics[timing]!["startTimeInMs"]!, (long)metrics[timing]!["totalTimeInMs"]!);

        string batchId = (string)job["destination"]!["batchId"]!;
        string local = await DownloadBatchAsync(client, output, batchId);
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");

        var columns = DuckDb.Query($"select column_name from (describe select * from read_parquet('{files}', union_by_name = true))").Select(r => (string)r[0]!).Order();
        Assert.Equal(["identities", "person", "personalEmail"], columns);

        var rows = DuckDb.Query($"""
            select personalEmail.address, person.name.firstName, len(identities), identities[1].id, identities[2].id
            from read_parquet('{files}', union_by_name = true) order by 1
            """);
        Assert.Equal(expected.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var p = expected[i];
            Assert.Equal([p.Email, p.FirstName, 2L, p.Id, $"crm-{p.Index}"], rows[i].Select(v => v is ulong u ? (long)u : v).ToArray());
        }

        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(local, "manifest.json")))!;
        Assert.Equal(id, (long)manifest["jobId"]!);
        Assert.Equal(total, (long)manifest["totalRows"]!);
        Assert.Equal(total, manifest["files"]!.AsArray().Sum(f => (long)f!["rows"]!));
        Assert.Equal(Directory.GetFiles(local, "*.parquet").Length, manifest["files"]!.AsArray().Count);

        var batch = await LocalHostFixture.ReadAsync(await client.GetAsync($"datasets/{output}/batches/{batchId}"), HttpStatusCode.OK);
        Assert.Equal(total, (long)batch["recordsAccepted"]!);
        Assert.Equal(id, (long)batch["relatedJobId"]!);
    }

    [Fact]
    public async Task One_segment_s_membership_is_projected_by_its_id()
    {
        await host.IngestProfilesOnceAsync();
        using var client = host.Client();
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var created = await LocalHostFixture.ReadAsync(
            await client.PostAsJsonAsync("export/jobs", Payload(output, "seg-b", "personalEmail.address,segmentMembership.ups.seg-b")), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(client, (long)created["id"]!, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());

        string local = await DownloadBatchAsync(client, output, (string)job["destination"]!["batchId"]!);
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        var rows = DuckDb.Query($"""
            select personalEmail.address, segmentMembership.ups."seg-b".status, json_keys(to_json(segmentMembership.ups))
            from read_parquet('{files}', union_by_name = true) order by 1
            """);
        var expected = host.Profiles.MembersOf("seg-b").Select(p => p.Email).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, rows.Select(r => (string)r[0]!));
        Assert.All(rows, r => Assert.Equal("realized", (string)r[1]!));
        Assert.All(rows, r => Assert.Equal("[\"seg-b\"]", System.Text.Json.JsonSerializer.Serialize(r[2])));
    }

    /// <summary>Downloads every file of a batch through the API, as a user would, into a fresh local folder.</summary>
    internal static async Task<string> DownloadBatchAsync(HttpClient client, string datasetId, string batchId)
    {
        string local = TemporaryFolders.Create("export-batch-");
        var listing = await LocalHostFixture.ReadAsync(await client.GetAsync($"datasets/{datasetId}/batches/{batchId}/files"), HttpStatusCode.OK);
        foreach (var file in listing["files"]!.AsArray())
        {
            using var response = await client.GetAsync(((string)file!["href"]!).TrimStart('/'));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            byte[] bytes = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal((long)file["bytes"]!, bytes.LongLength);
            await File.WriteAllBytesAsync(Path.Combine(local, (string)file["name"]!), bytes);
        }
        return local;
    }

    [Fact]
    public async Task A_job_cancelled_while_it_runs_ends_cancelled_with_no_files()
    {
        await host.IngestProfilesOnceAsync();
        using var client = host.Client();
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", Payload(output, "seg-a", null)), HttpStatusCode.OK);
        long id = (long)created["id"]!;

        var answer = await LocalHostFixture.ReadAsync(await client.DeleteAsync($"export/jobs/{id}"), HttpStatusCode.OK);
        Assert.Equal("""{"status":true,"message":"Export job has been marked for cancelling"}""", answer.ToJsonString());

        var job = await LocalHostFixture.WaitForJobAsync(client, id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.Equal("CANCELLED", (string)job["status"]!);
        string folder = $"{LocalHostFixture.Org}/prod/{output}/{(string)job["destination"]!["batchId"]!}/";
        Assert.Empty(await TestStorage.ListBlobsAsync(host.Prefix, folder));
    }

    [Fact]
    public async Task Bad_input_answers_one_problem_shape_naming_the_field()
    {
        using var client = host.Client();
        var response = await client.PostAsJsonAsync("export/jobs", new { destination = new { datasetId = "x" } });
        var problem = await LocalHostFixture.ReadAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(400, (int)problem["status"]!);
        Assert.Equal("schema.name", (string)problem["field"]!);

        using var anonymous = new HttpClient { BaseAddress = host.BaseAddress };
        response = await anonymous.GetAsync("export/jobs");
        problem = await LocalHostFixture.ReadAsync(response, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal("Authorization", (string)problem["field"]!);
    }
}
