using System.Net;
using System.Net.Http.Json;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class MergePolicyTests(LocalHostFixture host)
{
    [Fact]
    public async Task Policies_are_listed_created_read_updated_made_default_and_deleted()
    {
        using var client = host.Client("dev");
        var list = await LocalHostFixture.ReadAsync(await client.GetAsync("config/mergePolicies"), HttpStatusCode.OK);
        var builtIn = list["children"]!.AsArray().Single()!;
        Assert.Equal("timestampOrdered-none-mp", (string)builtIn["id"]!);
        Assert.True((bool)builtIn["default"]!);
        Assert.Equal(1, (int)list["_page"]!["count"]!);

        string crm = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true), web = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/mergePolicies",
            new { name = "CRM first", attributeMerge = new { type = "dataSetPrecedence", order = new[] { crm, web } }, @default = true }), HttpStatusCode.Created);
        string id = (string)created["id"]!;
        Assert.Equal(1, (int)created["version"]!);
        list = await LocalHostFixture.ReadAsync(await client.GetAsync("config/mergePolicies"), HttpStatusCode.OK);
        Assert.Equal([id], list["children"]!.AsArray().Where(p => (bool)p!["default"]!).Select(p => (string)p!["id"]!));

        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var job = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
            new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
        Assert.Equal(id, (string)job["mergePolicy"]!["id"]!);
        Assert.Equal("dataSetPrecedence", (string)job["mergePolicy"]!["attributeMerge"]!["type"]!);

        var updated = await LocalHostFixture.ReadAsync(await client.PutAsJsonAsync($"config/mergePolicies/{id}",
            new { name = "Newest wins", attributeMerge = new { type = "timestampOrdered" } }), HttpStatusCode.OK);
        Assert.Equal(2, (int)updated["version"]!);
        var read = await LocalHostFixture.ReadAsync(await client.GetAsync($"config/mergePolicies/{id}"), HttpStatusCode.OK);
        Assert.Equal(updated.ToJsonString(), read.ToJsonString());

        await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/mergePolicies",
            new { name = "bad", attributeMerge = new { type = "dataSetPrecedence" } }), HttpStatusCode.BadRequest);
        await LocalHostFixture.ReadAsync(await client.DeleteAsync("config/mergePolicies/timestampOrdered-none-mp"), HttpStatusCode.BadRequest);
        using (var deleted = await client.DeleteAsync($"config/mergePolicies/{id}")) Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await LocalHostFixture.ReadAsync(await client.GetAsync($"config/mergePolicies/{id}"), HttpStatusCode.NotFound);
        list = await LocalHostFixture.ReadAsync(await client.GetAsync("config/mergePolicies"), HttpStatusCode.OK);
        Assert.True((bool)list["children"]!.AsArray().Single()!["default"]!);
    }

    [Fact]
    public async Task Concurrent_updates_each_make_one_version_and_a_stale_If_Match_is_refused()
    {
        using var client = host.Client();
        using var created = await client.PostAsJsonAsync("config/mergePolicies", new { name = "v1", attributeMerge = new { type = "timestampOrdered" } });
        string id = (string)(await LocalHostFixture.ReadAsync(created, HttpStatusCode.Created))["id"]!;
        var firstETag = created.Headers.ETag!;

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            using var put = await client.PutAsJsonAsync($"config/mergePolicies/{id}", new { name = $"writer {i}", attributeMerge = new { type = "timestampOrdered" } });
            var body = await LocalHostFixture.ReadAsync(put, HttpStatusCode.OK);
            return ((int)body["version"]!, (string)body["name"]!);
        }));

        // One version per rule set: no two writers got the same version, none was lost.
        Assert.Equal(Enumerable.Range(2, 20), answers.Select(a => a.Item1).Order());
        using var get = await client.GetAsync($"config/mergePolicies/{id}");
        var read = await LocalHostFixture.ReadAsync(get, HttpStatusCode.OK);
        Assert.Equal(21, (int)read["version"]!);
        Assert.Equal(answers.Single(a => a.Item1 == 21).Item2, (string)read["name"]!);

        using var stale = new HttpRequestMessage(HttpMethod.Put, $"config/mergePolicies/{id}") { Content = JsonContent.Create(new { name = "late", attributeMerge = new { type = "timestampOrdered" } }) };
        stale.Headers.IfMatch.Add(firstETag);
        using var refused = await client.SendAsync(stale);
        Assert.Equal("precondition-failed", ((string)(await LocalHostFixture.ReadAsync(refused, HttpStatusCode.PreconditionFailed))["type"]!).Split('/')[^1]);

        using var current = new HttpRequestMessage(HttpMethod.Put, $"config/mergePolicies/{id}") { Content = JsonContent.Create(new { name = "on time", attributeMerge = new { type = "timestampOrdered" } }) };
        current.Headers.IfMatch.Add(get.Headers.ETag!);
        using var accepted = await client.SendAsync(current);
        Assert.Equal(22, (int)(await LocalHostFixture.ReadAsync(accepted, HttpStatusCode.OK))["version"]!);
        Assert.NotEqual(get.Headers.ETag, accepted.Headers.ETag);
    }
}
