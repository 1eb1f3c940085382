using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class PagingEndToEndTests(LocalHostFixture host)
{
    [Fact]
    public async Task List_follows_link_next_to_the_end_newest_first_and_filters_by_status()
    {
        using var client = host.Client("paging");
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var ids = new List<long>();
        for (int i = 0; i < 5; i++)
        {
            var job = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
                new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
            ids.Add((long)job["id"]!);
        }

        var listed = new List<long>();
        string? next = "export/jobs?limit=2";
        int pages = 0;
        while (next is not null)
        {
            var page = await LocalHostFixture.ReadAsync(await client.GetAsync(next.TrimStart('/')), HttpStatusCode.OK);
            pages++;
            var records = page["records"]!.AsArray();
            listed.AddRange(records.Select(r => (long)r!["id"]!));
            Assert.Equal("createdTime", (string)page["page"]!["sortField"]!);
            Assert.Equal("desc", (string)page["page"]!["sort"]!);
            Assert.Equal(2, (int)page["page"]!["pageSize"]!);
            next = (string?)page["link"]!["next"];
            if (next is not null)
            {
                var last = records[^1]!;
                Assert.Equal($"/export/jobs/?limit=2&offset={(long)last["creationTime"]!}_{(long)last["id"]!}", next);
            }
        }
        Assert.Equal(3, pages);
        Assert.Equal(ids.OrderDescending(), listed);

        foreach (long id in ids) await LocalHostFixture.WaitForJobAsync(client, id, s => s == "SUCCEEDED");
        var succeeded = await LocalHostFixture.ReadAsync(await client.GetAsync("export/jobs?status=SUCCEEDED"), HttpStatusCode.OK);
        Assert.Equal(ids.OrderDescending(), succeeded["records"]!.AsArray().Select(r => (long)r!["id"]!));
        var fresh = await LocalHostFixture.ReadAsync(await client.GetAsync("export/jobs?status=NEW"), HttpStatusCode.OK);
        Assert.Empty(fresh["records"]!.AsArray());
    }

    [Fact]
    public async Task Deleting_an_ended_job_removes_the_record_and_keeps_its_output()
    {
        using var client = host.Client("deleting");
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
            new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
        long id = (long)created["id"]!;
        var job = await LocalHostFixture.WaitForJobAsync(client, id, s => s == "SUCCEEDED");
        string folder = $"{LocalHostFixture.Org}/deleting/{output}/{(string)job["destination"]!["batchId"]!}/";
        var before = await TestStorage.ListBlobsAsync(host.Prefix, folder);
        Assert.NotEmpty(before);

        var answer = await LocalHostFixture.ReadAsync(await client.DeleteAsync($"export/jobs/{id}"), HttpStatusCode.OK);
        Assert.Equal("Export job has been deleted", (string)answer["message"]!);
        await LocalHostFixture.ReadAsync(await client.GetAsync($"export/jobs/{id}"), HttpStatusCode.NotFound);
        Assert.Equal(before, await TestStorage.ListBlobsAsync(host.Prefix, folder));
    }
}
