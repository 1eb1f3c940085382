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

        var created = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/mergePolicies",
            new { name = "CRM first", attributeMerge = new { type = "dataSetPrecedence", order = new[] { "crm1", "web2" } }, @default = true }), HttpStatusCode.Created);
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
}
