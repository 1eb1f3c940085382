using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>Three tenants, each endpoint against every other tenant's records: nothing foreign is seen or changed.</summary>
[Collection(LocalHostCollection.Name)]
public class CrossTenantTests(LocalHostFixture host)
{
    private const string OrgB = "B0B0B0B0B0B0B0B0B0B0B0B0@AdobeOrg";

    private sealed record TenantData(string Org, string Sandbox, HttpClient Client, string Output, string Profiles, string Batch, string ExportBatch, List<long> Jobs, string Definition);

    private static async Task<TenantData> SeedAsync(LocalHostFixture host, string org, string sandbox, int jobs)
    {
        var client = host.Client(sandbox, org);
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        string profiles = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        var batch = await LocalHostFixture.PostLinesAsync(client, profiles, [$$$"""{"identityMap":{"ecid":[{"id":"{{{org}}}-{{{sandbox}}}"}]}}"""], gzip: false);
        var ids = new List<long>();
        for (int i = 0; i < jobs; i++)
        {
            var job = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
                new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
            ids.Add((long)job["id"]!);
        }
        var definition = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("segment/definitions", new
        {
            name = $"{org}/{sandbox}",
            expression = new { type = "PQL", format = "pql/text", value = "identityMap.ecid.count() > 0" },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK);
        JsonNode last = null!;
        foreach (long id in ids) last = await LocalHostFixture.WaitForJobAsync(client, id, s => s == "SUCCEEDED");
        return new TenantData(org, sandbox, client, output, profiles, (string)batch["id"]!, (string)last["destination"]!["batchId"]!, ids, (string)definition["id"]!);
    }

    private static async Task<string> SnapshotAsync(TenantData t)
    {
        var jobs = await LocalHostFixture.ReadAsync(await t.Client.GetAsync("export/jobs?limit=100"), HttpStatusCode.OK);
        var batch = await LocalHostFixture.ReadAsync(await t.Client.GetAsync($"datasets/{t.Profiles}/batches/{t.Batch}"), HttpStatusCode.OK);
        var files = await LocalHostFixture.ReadAsync(await t.Client.GetAsync($"datasets/{t.Output}/batches/{t.ExportBatch}/files"), HttpStatusCode.OK);
        var definitions = await LocalHostFixture.ReadAsync(await t.Client.GetAsync("segment/definitions?limit=100"), HttpStatusCode.OK);
        return jobs["records"]!.ToJsonString() + batch.ToJsonString() + files.ToJsonString() + definitions.ToJsonString();
    }

    [Fact]
    public async Task No_tenant_reads_lists_changes_or_cancels_another_tenants_records()
    {
        var tenants = new[]
        {
            // Sandboxes no other test uses, so each tenant's job ids are exactly the ones seeded here.
            await SeedAsync(host, LocalHostFixture.Org, "tenant-a", jobs: 1),
            await SeedAsync(host, LocalHostFixture.Org, "tenant-b", jobs: 2),
            await SeedAsync(host, OrgB, "tenant-a", jobs: 3),
        };
        var before = await Task.WhenAll(tenants.Select(SnapshotAsync));
        int checks = 0;

        foreach (var caller in tenants)
        foreach (var other in tenants.Where(t => t != caller))
        {
            var c = caller.Client;
            async Task Expect(HttpStatusCode status, Task<HttpResponseMessage> call, string what)
            {
                using var response = await call;
                Assert.True(response.StatusCode == status, $"{caller.Org}/{caller.Sandbox} → {other.Org}/{other.Sandbox} {what}: {(int)response.StatusCode}");
                checks++;
            }

            foreach (long id in other.Jobs.Where(id => !caller.Jobs.Contains(id)))
            {
                await Expect(HttpStatusCode.NotFound, c.GetAsync($"export/jobs/{id}"), $"GET job {id}");
                await Expect(HttpStatusCode.NotFound, c.DeleteAsync($"export/jobs/{id}"), $"DELETE job {id}");
            }
            foreach (long id in other.Jobs.Where(caller.Jobs.Contains))
            {
                var own = await LocalHostFixture.ReadAsync(await c.GetAsync($"export/jobs/{id}"), HttpStatusCode.OK);
                Assert.Equal(caller.Output, (string)own["destination"]!["datasetId"]!);
                checks++;
            }
            await Expect(HttpStatusCode.NotFound, c.GetAsync($"datasets/{other.Output}"), "GET dataset");
            await Expect(HttpStatusCode.NotFound, c.GetAsync($"datasets/{other.Profiles}/batches/{other.Batch}"), "GET batch");
            await Expect(HttpStatusCode.NotFound, c.GetAsync($"datasets/{other.Output}/batches/{other.ExportBatch}/files"), "GET batch files");
            await Expect(HttpStatusCode.NotFound, c.GetAsync($"datasets/{other.Output}/batches/{other.ExportBatch}/files/manifest.json"), "GET manifest");
            await Expect(HttpStatusCode.NotFound, c.PostAsync($"datasets/{other.Profiles}/batches",
                new StringContent("""{"identityMap":{"ecid":[{"id":"x"}]}}""")), "POST batch");
            await Expect(HttpStatusCode.BadRequest, c.PostAsJsonAsync("export/jobs",
                new { destination = new { datasetId = other.Output }, schema = new { name = "_xdm.context.profile" } }), "POST job into its dataset");

            await Expect(HttpStatusCode.NotFound, c.GetAsync($"segment/definitions/{other.Definition}"), "GET segment definition");
            await Expect(HttpStatusCode.NotFound, c.PatchAsJsonAsync($"segment/definitions/{other.Definition}", new { name = "taken" }), "PATCH segment definition");
            await Expect(HttpStatusCode.NotFound, c.DeleteAsync($"segment/definitions/{other.Definition}"), "DELETE segment definition");
            await Expect(HttpStatusCode.BadRequest, c.PostAsJsonAsync("export/jobs", new
            {
                filter = new { segments = new[] { new { segmentId = other.Definition } } },
                evaluationInfo = new { segmentation = true },
                destination = new { datasetId = caller.Output },
                schema = new { name = "_xdm.context.profile" },
            }), "POST job evaluating its segment definition");
            var definitions = await LocalHostFixture.ReadAsync(await c.GetAsync("segment/definitions?limit=100"), HttpStatusCode.OK);
            Assert.Equal([caller.Definition], definitions["segments"]!.AsArray().Select(d => (string)d!["id"]!));
            checks++;

            var foreignCursor = $"{DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeMilliseconds()}_{other.Jobs.Max() + 1}";
            var page = await LocalHostFixture.ReadAsync(await c.GetAsync($"export/jobs?limit=100&offset={foreignCursor}"), HttpStatusCode.OK);
            Assert.All(page["records"]!.AsArray(), r => Assert.Equal(caller.Output, (string)r!["destination"]!["datasetId"]!));
            checks++;

            using var borrowed = host.Client(caller.Sandbox, caller.Org);
            borrowed.DefaultRequestHeaders.Remove("x-gw-ims-org-id");
            borrowed.DefaultRequestHeaders.Add("x-gw-ims-org-id", other.Org);
            if (other.Org != caller.Org)
                await Expect(HttpStatusCode.Forbidden, borrowed.GetAsync("export/jobs"), "with the other org's header and its own token");
        }

        var after = await Task.WhenAll(tenants.Select(SnapshotAsync));
        Assert.Equal(before, after);
        Assert.True(checks >= 50, $"{checks} cross-tenant checks");
        foreach (var t in tenants) t.Client.Dispose();
    }
}
