using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// <c>identityGraph: pdg</c> merge policies through the LocalHost: each rule of docs/identity.md on small data, in a
/// sandbox of its own, the exported Parquet read with DuckDB. A row is shown as its primary, its identities and the
/// attributes asked for.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class StitchingTests(LocalHostFixture host)
{
    private sealed record Sandbox(HttpClient Client, string Crm, string Web, string Events, string Output);

    /// <summary>An exported row: its primary identity, every identity of its identityMap (sorted), and one attribute.</summary>
    private sealed record Row(string Primary, string Identities, string? Attribute);

    [Fact]
    public async Task Linked_fragments_are_one_profile_with_every_identity_and_attribute_and_none_keeps_them_apart()
    {
        var s = await SetUpAsync("stitch-1");
        await IngestAsync(s, s.Crm,
            Record(("CRMID", "x"), [("Email", "x@example.com")], """{"person":{"name":{"firstName":"Xena"}}}"""),
            Record(("CRMID", "y"), [], """{"person":{"name":{"firstName":"Yann"}}}"""));
        await IngestAsync(s, s.Web,
            Record(("ECID", "c1"), [("CRMID", "x")], """{"loyalty":{"tier":"gold"}}"""),
            Record(("ECID", "c2"), [("CRMID", "y")], """{"loyalty":{"tier":"silver"}}"""),
            Record(("ECID", "c3"), [("CRMID", "y")], """{"loyalty":{"tier":"bronze"}}"""),
            Record(("Email", "x@example.com"), [], """{"personalEmail":{"address":"x@example.com"}}"""),
            Record(("ECID", "c9"), [], """{"loyalty":{"tier":"none"}}"""));
        string pdg = await PolicyAsync(s, "pdg");

        var (job, rows) = await ExportAsync(s, pdg, "person.name.firstName || '/' || coalesce(loyalty.tier, '') || '/' || coalesce(personalEmail.address, '')");
        Assert.Equal(
        [
            new Row("CRMID:x", "CRMID:x ECID:c1 Email:x@example.com", "Xena/gold/x@example.com"),
            new Row("CRMID:y", "CRMID:y ECID:c2 ECID:c3", "Yann/bronze/"),
            new Row("ECID:c9", "ECID:c9", null),
        ], rows);
        Assert.Equal("""{"CRMID":2,"ECID":1}""", job["metrics"]!["exportedProfileByNamespaceCounter"]!.ToJsonString());
        Assert.Equal("pdg", (string)job["mergePolicy"]!["identityGraph"]!["type"]!);
        // The fragments the job moved are kept with the graph build, named by the runs each shard's route read: a second
        // export of the same data reads them again, routing nothing.
        // A route is one blob of files by partition (".files"), beside its mark and its moved groups.
        var routed = await RoutedFilesAsync("stitch-1");
        Assert.Contains(routed.Keys, name => name.EndsWith(".files", StringComparison.Ordinal));
        Assert.All(routed.Keys, name => Assert.Matches(@"/routed/profile/s\d{4}-[0-9a-f]{16}(\.files|\.sections|\.groups)$", name));
        var (_, again) = await ExportAsync(s, pdg, "person.name.firstName || '/' || coalesce(loyalty.tier, '') || '/' || coalesce(personalEmail.address, '')");
        Assert.Equal(rows, again);
        Assert.Equal(routed, await RoutedFilesAsync("stitch-1"));

        // The same data under `none`: one profile per primary identity, each with its own identityMap.
        var (_, apart) = await ExportAsync(s, MergePolicyBuiltIn, "coalesce(loyalty.tier, person.name.firstName, personalEmail.address)");
        Assert.Equal(7, apart.Count);
        Assert.Contains(new Row("ECID:c1", "CRMID:x ECID:c1", "gold"), apart);
    }

    [Theory]
    [InlineData("stitch-2", true)]
    [InlineData("stitch-3", false)]
    public async Task A_shared_device_goes_to_its_latest_user_only_with_a_unique_namespace_and_a_newer_link_moves_it_back(string sandbox, bool unique)
    {
        var s = await SetUpAsync(sandbox, unique ? new { namespacePriority = new[] { "CRMID", "ECID" }, uniqueNamespaces = new[] { "CRMID" } } : null);
        // X's own record names the tablet too: where the tablet goes to Y, X's profile must not show it.
        await IngestAsync(s, s.Crm,
            Record(("CRMID", "x"), [("ECID", "tablet")], """{"person":{"name":{"firstName":"X"}}}"""),
            Record(("CRMID", "y"), [], """{"person":{"name":{"firstName":"Y"}}}"""));
        await IngestAsync(s, s.Web, Record(("ECID", "tablet"), [("CRMID", "x")], """{"loyalty":{"tier":"x-visit"}}"""));
        await IngestAsync(s, s.Web, Record(("ECID", "tablet"), [("CRMID", "y")], """{"loyalty":{"tier":"y-visit"}}"""));
        string pdg = await PolicyAsync(s, "pdg");

        var (_, rows) = await ExportAsync(s, pdg, "person.name.firstName || '/' || coalesce(loyalty.tier, '')");
        Assert.Equal(unique
            ? [new Row("CRMID:x", "CRMID:x", "X/"), new Row("CRMID:y", "CRMID:y ECID:tablet", "Y/y-visit")]
            // One graph; its primary is the CRM id linked last, and Y's record, later in its batch, is the newer.
            : [new Row("CRMID:y", "CRMID:x CRMID:y ECID:tablet", "Y/y-visit")], rows);

        // X logs in on the tablet again: a new batch, so a new build, and the newer link wins the tablet back.
        await IngestAsync(s, s.Web, Record(("ECID", "tablet"), [("CRMID", "x")], """{"loyalty":{"tier":"x-again"}}"""));
        (_, rows) = await ExportAsync(s, pdg, "person.name.firstName || '/' || coalesce(loyalty.tier, '')");
        Assert.Equal(unique
            ? [new Row("CRMID:x", "CRMID:x ECID:tablet", "X/x-again"), new Row("CRMID:y", "CRMID:y", "Y/")]
            : [new Row("CRMID:x", "CRMID:x CRMID:y ECID:tablet", "Y/x-again")], rows);
    }

    [Fact]
    public async Task A_graph_holds_at_most_50_identities_and_its_oldest_links_are_the_ones_dropped()
    {
        var s = await SetUpAsync("stitch-4");
        await IngestAsync(s, s.Crm, Record(("CRMID", "x"), [], """{"person":{"name":{"firstName":"X"}}}"""));
        await IngestAsync(s, s.Web, Enumerable.Range(0, 60)
            .Select(i => Record(("ECID", $"c{i:D2}"), [("CRMID", "x")], "{\"loyalty\":{\"points\":" + i + "}}")).ToArray());
        string pdg = await PolicyAsync(s, "pdg");

        var (_, rows) = await ExportAsync(s, pdg, "loyalty.points::varchar");
        // Links are newest first: the cookies of the 49 latest records join x; the 11 earliest stay profiles of their own.
        var stitched = rows.Single(r => r.Primary == "CRMID:x");
        Assert.Equal(string.Join(' ', new[] { "CRMID:x" }.Concat(Enumerable.Range(11, 49).Select(i => $"ECID:c{i:D2}"))), stitched.Identities);
        Assert.Equal("59", stitched.Attribute);
        Assert.Equal(Enumerable.Range(0, 11).Select(i => new Row($"ECID:c{i:D2}", $"ECID:c{i:D2}", i.ToString())), rows.Where(r => r != stitched));
    }

    [Fact]
    public async Task A_new_batch_that_links_two_graphs_joins_them()
    {
        var s = await SetUpAsync("stitch-5");
        await IngestAsync(s, s.Web,
            Record(("ECID", "c1"), [("CRMID", "x")], """{"loyalty":{"tier":"gold"}}"""),
            Record(("ECID", "c2"), [("Email", "x@example.com")], """{"personalEmail":{"address":"x@example.com"}}"""));
        string pdg = await PolicyAsync(s, "pdg");
        var (_, rows) = await ExportAsync(s, pdg, "coalesce(loyalty.tier, personalEmail.address)");
        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1", "gold"), new Row("Email:x@example.com", "ECID:c2 Email:x@example.com", "x@example.com")], rows);

        await IngestAsync(s, s.Web, Record(("ECID", "c2"), [("ECID", "c1")], """{"web":{"visits":2}}"""));
        (_, rows) = await ExportAsync(s, pdg, "loyalty.tier || '/' || personalEmail.address");
        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1 ECID:c2 Email:x@example.com", "gold/x@example.com")], rows);
    }

    [Fact]
    public async Task DataSetPrecedence_ranks_the_fragments_of_every_identity_of_a_graph()
    {
        var s = await SetUpAsync("stitch-6");
        await IngestAsync(s, s.Crm, Record(("CRMID", "x"), [], """{"loyalty":{"tier":"from crm"}}"""));
        await IngestAsync(s, s.Web, Record(("ECID", "c1"), [("CRMID", "x")], """{"loyalty":{"tier":"from web, newer"}}"""));
        string crmFirst = await PolicyAsync(s, "pdg", new { type = "dataSetPrecedence", order = new[] { s.Crm, s.Web } });
        string newest = await PolicyAsync(s, "pdg");

        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1", "from crm")], (await ExportAsync(s, crmFirst, "loyalty.tier")).Rows);
        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1", "from web, newer")], (await ExportAsync(s, newest, "loyalty.tier")).Rows);
    }

    [Fact]
    public async Task Segments_are_evaluated_on_the_stitched_profile_with_the_events_of_every_identity()
    {
        var s = await SetUpAsync("stitch-7");
        await IngestAsync(s, s.Crm,
            Record(("CRMID", "x"), [("Email", "x@example.com")], """{"person":{"name":{"firstName":"Xena"}}}"""),
            Record(("CRMID", "y"), [], """{"person":{"name":{"firstName":"Xena"}}}"""));
        await IngestAsync(s, s.Web, Record(("ECID", "c1"), [("CRMID", "x")], """{"loyalty":{"tier":"gold"}}"""));
        await IngestAsync(s, s.Events,
            Event(("ECID", "c1"), "e1", "2026-11-01T10:00:00Z"),
            Event(("CRMID", "x"), "e2", "2026-11-02T10:00:00Z"),
            Event(("Email", "x@example.com"), "e3", "2026-11-03T10:00:00Z"),
            Event(("CRMID", "y"), "e4", "2026-11-04T10:00:00Z"));
        string pdg = await PolicyAsync(s, "pdg");
        string segment = (string)(await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("segment/definitions", new
        {
            name = "gold Xena, 3 events",
            expression = new { type = "PQL", format = "pql/text", value = "person.name.firstName = \"Xena\" and loyalty.tier = \"gold\" and xEvent.count() >= 3" },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK))["id"]!;

        var evaluated = new
        {
            filter = new { segments = new[] { new { segmentId = segment } } },
            evaluationInfo = new { segmentation = true },
            additionalFields = new { eventList = new { fields = "_id" } },
        };
        var (job, rows) = await ExportAsync(s, pdg, "array_to_string(list_sort(list_transform(events, e -> e._id)), ',')", evaluated);
        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1 Email:x@example.com", "e1,e2,e3")], rows);
        Assert.Equal(1, (long)job["metrics"]!["totalExportedProfileCounter"]!);

        // Not stitched, no one qualifies: x's record has no tier, c1's no name, and neither three events.
        var (_, apart) = await ExportAsync(s, MergePolicyBuiltIn, "person.name.firstName", evaluated);
        Assert.Empty(apart);
    }

    [Fact]
    public async Task Events_of_every_identity_keep_their_fields_when_the_job_names_the_profile_fields()
    {
        var s = await SetUpAsync("stitch-8");
        await IngestAsync(s, s.Crm, Record(("CRMID", "x"), [], """{"person":{"name":{"firstName":"Xena"}}}"""));
        await IngestAsync(s, s.Web, Record(("ECID", "c1"), [("CRMID", "x")], """{"loyalty":{"tier":"gold"}}"""));
        await IngestAsync(s, s.Events, Event(("ECID", "c1"), "e1", "2026-11-01T10:00:00Z"), Event(("CRMID", "x"), "e2", "2026-11-02T10:00:00Z"));
        string pdg = await PolicyAsync(s, "pdg");

        // The fields name profile members only; the events of c1 are moved to x's partition with every member of theirs.
        var projected = new { fields = "identityMap,loyalty", additionalFields = new { eventList = new { fields = "_id,eventType" } } };
        var (_, rows) = await ExportAsync(s, pdg,
            "loyalty.tier || ' ' || array_to_string(list_sort(list_transform(events, e -> e._id || ':' || e.eventType)), ',')", projected);
        Assert.Equal([new Row("CRMID:x", "CRMID:x ECID:c1", "gold e1:view,e2:view")], rows);
    }

    private const string MergePolicyBuiltIn = "timestampOrdered-none-mp";

    /// <summary>The files of a sandbox's graph builds' routes, each with its ETag (which a file written again changes).</summary>
    private async Task<Dictionary<string, string>> RoutedFilesAsync(string sandbox)
    {
        var service = new Azure.Storage.Blobs.BlobServiceClient(TestStorage.ConnectionString);
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var build in service.GetBlobContainersAsync(prefix: StorageNames.BuildsContainers(host.Prefix, $"{LocalHostFixture.Org}/{sandbox}")))
            await foreach (var blob in service.GetBlobContainerClient(build.Name).GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = "routed/" }))
                files[$"{build.Name}/{blob.Name}"] = blob.Properties.ETag!.Value.ToString();
        return files;
    }

    private async Task<Sandbox> SetUpAsync(string sandbox, object? settings = null)
    {
        var client = host.Client(sandbox);
        if (settings is not null) await LocalHostFixture.ReadAsync(await client.PutAsJsonAsync("config/identitySettings", settings), HttpStatusCode.OK);
        string events = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets",
            new { name = "events", schema = new { name = "_xdm.context.experienceevent" }, profileEnabled = true }), HttpStatusCode.Created))["id"]!;
        return new Sandbox(client, await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true), await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true),
            events, await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false));
    }

    private static async Task IngestAsync(Sandbox s, string dataset, params string[] lines)
    {
        var batch = await LocalHostFixture.PostLinesAsync(s.Client, dataset, lines, gzip: false);
        Assert.Equal(lines.Length, (long)batch["recordsAccepted"]!);
    }

    private static string Record((string Ns, string Id) primary, (string Ns, string Id)[] others, string attributes)
    {
        var map = new JsonObject { [primary.Ns] = new JsonArray(new JsonObject { ["id"] = primary.Id, ["primary"] = true }) };
        foreach (var (ns, id) in others)
        {
            if (map[ns] is not JsonArray entries) map[ns] = entries = [];
            entries.Add(new JsonObject { ["id"] = id });
        }
        var record = JsonNode.Parse(attributes)!.AsObject();
        record.Insert(0, "identityMap", map);
        return record.ToJsonString();
    }

    private static string Event((string Ns, string Id) identity, string id, string timestamp) =>
        Record(identity, [], $$"""{"_id":"{{id}}","eventType":"view","timestamp":"{{timestamp}}"}""");

    private static async Task<string> PolicyAsync(Sandbox s, string graph, object? attributeMerge = null) =>
        (string)(await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("config/mergePolicies", new
        {
            name = $"{graph} policy",
            identityGraph = new { type = graph },
            attributeMerge = attributeMerge ?? new { type = "timestampOrdered" },
        }), HttpStatusCode.Created))["id"]!;

    /// <summary>Exports with the policy (and the job's other members), waits for it to succeed, and reads its rows with DuckDB, ordered by primary.</summary>
    private static async Task<(JsonNode Job, List<Row> Rows)> ExportAsync(Sandbox s, string policy, string attributeSql, object? more = null)
    {
        var request = JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(more ?? new { }))!.AsObject();
        request["mergePolicy"] = new JsonObject { ["id"] = policy };
        request["destination"] = new JsonObject { ["datasetId"] = s.Output };
        request["schema"] = new JsonObject { ["name"] = "_xdm.context.profile" };
        var created = await LocalHostFixture.ReadAsync(await s.Client.PostAsync("export/jobs",
            new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(s.Client, (long)created["id"]!, st => st is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());

        string local = await ExportEndToEndTests.DownloadBatchAsync(s.Client, s.Output, (string)job["destination"]!["batchId"]!);
        if (Directory.GetFiles(local, "*.parquet").Length == 0) return (job, []);
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        var rows = DuckDb.Query($"select to_json(identityMap)::varchar, ({attributeSql})::varchar from read_parquet('{files}', union_by_name = true)")
            .Select(r => RowOf((string)r[0]!, (string?)r[1])).OrderBy(r => r.Primary, StringComparer.Ordinal).ToList();
        return (job, rows);
    }

    private static Row RowOf(string identityMap, string? attribute)
    {
        var identities = new List<string>();
        string? primary = null;
        // The column is a struct of every namespace the files hold: a row's namespaces it has no identity of are null.
        foreach (var (ns, entries) in JsonNode.Parse(identityMap)!.AsObject())
            foreach (var entry in entries?.AsArray() ?? [])
            {
                string identity = $"{ns}:{(string)entry!["id"]!}";
                identities.Add(identity);
                if (entry["primary"]?.GetValue<bool>() == true) primary = identity;
            }
        return new Row(primary ?? "?", string.Join(' ', identities.Order(StringComparer.Ordinal)), attribute);
    }
}
