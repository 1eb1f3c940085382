using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// Segment definitions and <c>evaluationInfo.segmentation</c> through the LocalHost: 25 definitions, each written a
/// second time as SQL over the generator's flat rows, evaluated by one job (a batch per segment) and compared with what
/// DuckDB selects; then the recorded memberships, seen by a job that does not evaluate, and exits after an update.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class SegmentationTests(LocalHostFixture host)
{
    private const string Sandbox = "segmentation";
    private const long Day = 86_400_000;

    /// <summary>A definition and the same condition in SQL over <c>profiles p</c> and <c>events e</c>; <c>{now}</c> is the evaluation time in ms.</summary>
    internal static readonly (string Name, string Pql, string Sql)[] Definitions =
    [
        ("born 1980 or later", "person.birthYear >= 1980", "birthYear >= 1980"),
        ("US and born before 1990", "homeAddress.countryCode = \"US\" and person.birthYear < 1990", "countryCode = 'US' and birthYear < 1990"),
        ("name like Jo%", "person.name.firstName like \"Jo%\"", "firstName like 'Jo%'"),
        ("name starts with jo, any case", "person.name.firstName.startsWith(\"jo\", false)", "starts_with(lower(firstName), 'jo')"),
        ("name ends with n", "person.name.firstName.endsWith(\"n\")", "ends_with(firstName, 'n')"),
        ("city contains ew", "homeAddress.city.contains(\"ew\")", "contains(city, 'ew')"),
        ("tier gold, any case", "loyalty.tier.equals(\"gold\", false)", "lower(tier) = 'gold'"),
        ("email matches", "personalEmail.address.matches(\"^p[0-9]*7@\")", "regexp_matches(email, '^p[0-9]*7@')"),
        ("no first name", "person.name.firstName.isNull()", "firstName is null"),
        ("not in the US", "not (homeAddress.countryCode = \"US\")", "not (countryCode = 'US')"),
        ("North America", "homeAddress.countryCode.in([\"US\", \"CA\"])", "countryCode in ('US', 'CA')"),
        ("outside North America", "homeAddress.countryCode.notIn([\"US\", \"CA\"])", "countryCode not in ('US', 'CA')"),
        ("likes golf", "interests.includes(\"golf\")", "interests is not null and list_contains(interests, 'golf')"),
        ("likes chess or art", "interests.intersects([\"chess\", \"art\"])", "interests is not null and list_has_any(interests, ['chess', 'art'])"),
        ("only sports and chess", "interests.subsetOf([\"golf\", \"chess\", \"tennis\"])", "interests is not null and list_has_all(['golf', 'chess', 'tennis'], interests)"),
        ("two interests or more", "interests.count() >= 2", "coalesce(len(interests), 0) >= 2"),
        ("rich or consenting", "loyalty.points > 2500 or consents.marketing", "points > 2500 or marketing"),
        ("refused marketing, has points", "consents.marketing = false and loyalty.points.isNotNull()", "marketing = false and points is not null"),
        ("seen this week", "lastSeen occurs <= 7 days before now", "lastSeenMs <= {now} and lastSeenMs >= {now} - 7 * " + Day),
        ("more than 3 events", "xEvent.count() > 3", "(select count(*) from events e where e.email = p.email) > 3"),
        ("a big purchase", "exists X from xEvent where X.eventType = \"purchase\" and X.commerce.order.priceTotal > 200",
            "exists (select 1 from events e where e.email = p.email and e.eventType = 'purchase' and e.price > 200)"),
        ("spent over 300", "xEvent[eventType = \"purchase\"].commerce.order.priceTotal.sum() > 300",
            "(select sum(price) from events e where e.email = p.email and e.eventType = 'purchase') > 300"),
        ("two recent views", "(select X from xEvent where X.eventType = \"view\" and X.timestamp occurs <= 14 days before now).count() >= 2",
            "(select count(*) from events e where e.email = p.email and e.eventType = 'view' and e.tsMs <= {now} and e.tsMs >= {now} - 14 * " + Day + ") >= 2"),
        ("never refunded", "forall X from xEvent where X.eventType != \"refund\"",
            "not exists (select 1 from events e where e.email = p.email and e.eventType = 'refund')"),
        ("seventies, no golf", "person.birthYear >= 1970 and person.birthYear < 1980 and not interests.includes(\"golf\")",
            "birthYear >= 1970 and birthYear < 1980 and interests is not null and not list_contains(interests, 'golf')"),
    ];

    private static readonly SemaphoreSlim Once = new(1, 1);
    private static Setup? _setup;

    /// <summary>The population, its datasets, the definitions, and the job that evaluated them all (run before any test changes the data).</summary>
    private sealed record Setup(HttpClient Client, SegmentationData Data, string ProfileDataset, string Output, string[] SegmentIds, string ModelFolder, JsonNode Evaluated);

    private async Task<Setup> SetUpAsync()
    {
        await Once.WaitAsync();
        try
        {
            if (_setup is not null) return _setup;
            var client = host.Client(Sandbox);
            var data = new SegmentationData(400, DateTimeOffset.UtcNow);
            string profiles = await data.IngestAsync(client);

            var ids = new List<string>();
            foreach (var (name, pql, _) in Definitions)
                ids.Add((string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("segment/definitions", Definition(name, pql)), HttpStatusCode.OK))["id"]!);
            string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
            var setup = new Setup(client, data, profiles, output, [.. ids], data.WriteFlatFiles(), new JsonObject());
            _setup = setup with { Evaluated = await RunAsync(setup, [.. ids], segmentation: true) };
            return _setup;
        }
        finally
        {
            Once.Release();
        }
    }

    internal static object Definition(string name, string pql) => new
    {
        name,
        expression = new { type = "PQL", format = "pql/text", value = pql },
        schema = new { name = "_xdm.context.profile" },
    };

    [Fact]
    public async Task Each_definition_selects_what_the_same_condition_in_SQL_selects()
    {
        var s = await SetUpAsync();
        var job = s.Evaluated;
        long now = (long)job["creationTime"]!;
        var batches = job["destination"]!["batches"]!.AsArray();
        var counts = job["metrics"]!["exportedProfileBySegmentCounter"]!.AsArray();
        int nonTrivial = 0;
        for (int i = 0; i < Definitions.Length; i++)
        {
            var expected = Expected(s.ModelFolder, Definitions[i].Sql, now);
            var actual = await EmailsAsync(s, (string)batches[i]!["batchId"]!);
            Assert.True(expected.SequenceEqual(actual), $"{Definitions[i].Name}: expected {expected.Count} members, exported {actual.Count}: " +
                $"missing [{string.Join(", ", expected.Except(actual).Take(5))}], extra [{string.Join(", ", actual.Except(expected).Take(5))}]");
            Assert.Equal(expected.Count, (long)counts[i]!["count"]!);
            if (expected.Count > 0 && expected.Count < s.Data.People.Count) nonTrivial++;
        }
        Assert.Equal(Definitions.Length, nonTrivial);
    }

    [Fact]
    public async Task Memberships_are_recorded_kept_and_exited_after_an_update()
    {
        var s = await SetUpAsync();
        // A definition of its own, so that its memberships are recorded first by this test.
        var bornLate = (string)(await LocalHostFixture.ReadAsync(
            await s.Client.PostAsJsonAsync("segment/definitions", Definition("born 1980 or later, again", Definitions[0].Pql)), HttpStatusCode.OK))["id"]!;
        var evaluated = await RunAsync(s, [bornLate], segmentation: true);
        long evaluatedAt = (long)evaluated["creationTime"]!;
        var members = await EmailsAsync(s, (string)evaluated["destination"]!["batches"]![0]!["batchId"]!);
        Assert.Equal(Expected(s.ModelFolder, Definitions[0].Sql, evaluatedAt), members);

        // A job that does not evaluate sees the memberships recorded.
        var recorded = await RunAsync(s, [bornLate], segmentation: false);
        Assert.Equal(members, await EmailsAsync(s, (string)recorded["destination"]!["batches"]![0]!["batchId"]!));

        // Ten members are born earlier now: evaluated again, they have exited, with their qualification time kept.
        var changed = members.Take(10).ToList();
        await LocalHostFixture.PostLinesAsync(s.Client, s.ProfileDataset, changed.Select(email => new JsonObject
        {
            ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = email, ["primary"] = true }) },
            ["person"] = new JsonObject { ["birthYear"] = 1900 },
        }.ToJsonString()), gzip: false);
        var again = await RunAsync(s, [bornLate], segmentation: true, status: ["exited"], fields: "personalEmail.address,segmentMembership");
        var rows = await RowsAsync(s, (string)again["destination"]!["batches"]![0]!["batchId"]!, "personalEmail.address, segmentMembership");
        Assert.Equal(changed, rows.Select(r => (string)r[0]!).Order(StringComparer.Ordinal));
        foreach (var row in rows)
        {
            var entry = JsonNode.Parse((string)row[1]!)!["ups"]![bornLate]!;
            Assert.Equal("exited", (string)entry["status"]!);
            Assert.Equal(evaluatedAt, DateTimeOffset.Parse((string)entry["lastQualificationTime"]!).ToUnixTimeMilliseconds());
        }
        // Those who still qualify keep their first qualification time: a window ending then still finds them.
        var continuing = await RunAsync(s, [bornLate], segmentation: true, window: new { endTime = SegmentationData.Rfc3339(evaluatedAt) });
        Assert.Equal(members.Except(changed).ToList(), await EmailsAsync(s, (string)continuing["destination"]!["batches"]![0]!["batchId"]!));
    }

    [Fact]
    public async Task A_definition_that_does_not_compile_is_refused_with_its_position()
    {
        var s = await SetUpAsync();
        async Task<JsonNode> RefusedAsync(string pql) =>
            await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("segment/definitions", Definition("bad", pql)), HttpStatusCode.BadRequest);

        var unknownPath = await RefusedAsync("person.nickName = \"x\"");
        Assert.Equal("expression.value", (string)unknownPath["field"]!);
        Assert.Equal(7, (int)unknownPath["errors"]![0]!["position"]!);
        Assert.Contains("person.nickName", (string)unknownPath["detail"]!);

        var syntax = await RefusedAsync("person.birthYear >= ");
        Assert.Equal(20, (int)syntax["errors"]![0]!["position"]!);
        Assert.Contains("expected a value", (string)syntax["detail"]!);

        var list = await LocalHostFixture.ReadAsync(await s.Client.GetAsync("segment/definitions?limit=100"), HttpStatusCode.OK);
        Assert.DoesNotContain(list["segments"]!.AsArray(), d => (string)d!["name"]! == "bad");
    }

    [Fact]
    public async Task Definitions_are_listed_in_pages_read_patched_and_deleted()
    {
        var s = await SetUpAsync();
        var first = await LocalHostFixture.ReadAsync(await s.Client.GetAsync("segment/definitions?limit=10"), HttpStatusCode.OK);
        Assert.Equal(10, first["segments"]!.AsArray().Count);
        Assert.True((int)first["page"]!["totalCount"]! >= Definitions.Length);
        var next = (string)first["link"]!["next"]!;
        var second = await LocalHostFixture.ReadAsync(await s.Client.GetAsync(next.TrimStart('/')), HttpStatusCode.OK);
        Assert.Empty(first["segments"]!.AsArray().Select(d => (string)d!["id"]!).Intersect(second["segments"]!.AsArray().Select(d => (string)d!["id"]!)));

        var created = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("segment/definitions", Definition("temporary", "loyalty.points > 1")), HttpStatusCode.OK);
        string id = (string)created["id"]!;
        var patched = await LocalHostFixture.ReadAsync(await s.Client.PatchAsJsonAsync($"segment/definitions/{id}",
            new { expression = new { type = "PQL", format = "pql/text", value = "loyalty.points > 2" } }), HttpStatusCode.OK);
        Assert.Equal("loyalty.points > 2", (string)patched["expression"]!["value"]!);
        Assert.Equal("temporary", (string)patched["name"]!);
        await LocalHostFixture.ReadAsync(await s.Client.PatchAsJsonAsync($"segment/definitions/{id}",
            new { expression = new { type = "PQL", format = "pql/text", value = "loyalty.point > 2" } }), HttpStatusCode.BadRequest);
        var read = await LocalHostFixture.ReadAsync(await s.Client.GetAsync($"segment/definitions/{id}"), HttpStatusCode.OK);
        Assert.Equal("loyalty.points > 2", (string)read["expression"]!["value"]!);

        Assert.Equal(HttpStatusCode.OK, (await s.Client.DeleteAsync($"segment/definitions/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await s.Client.GetAsync($"segment/definitions/{id}")).StatusCode);
        var problem = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("export/jobs", new
        {
            filter = new { segments = new[] { new { segmentId = id } } },
            evaluationInfo = new { segmentation = true },
            destination = new { datasetId = s.Output },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.BadRequest);
        Assert.Equal("filter.segments[0].segmentId", (string)problem["field"]!);
    }

    internal static List<string> Expected(string modelFolder, string sql, long now)
    {
        string folder = modelFolder.Replace("'", "''");
        return DuckDb.Query($"""
            with profiles as (select * from read_json('{folder}/profiles.json', format = 'newline_delimited', columns = {"{"}
                    email: 'VARCHAR', firstName: 'VARCHAR', birthYear: 'BIGINT', countryCode: 'VARCHAR', city: 'VARCHAR', points: 'DOUBLE',
                    tier: 'VARCHAR', interests: 'VARCHAR[]', marketing: 'BOOLEAN', lastSeenMs: 'BIGINT'{"}"})),
                 events as (select * from read_json('{folder}/events.json', format = 'newline_delimited', columns = {"{"}
                    email: 'VARCHAR', eventType: 'VARCHAR', tsMs: 'BIGINT', price: 'DOUBLE'{"}"}))
            select email from profiles p where {sql.Replace("{now}", now.ToString(System.Globalization.CultureInfo.InvariantCulture))} order by email
            """).Select(r => (string)r[0]!).Order(StringComparer.Ordinal).ToList();
    }

    private static async Task<JsonNode> RunAsync(Setup s, string[] segmentIds, bool segmentation, string[]? status = null, string fields = "personalEmail.address", object? window = null)
    {
        var created = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("export/jobs", new
        {
            fields,
            filter = new { segments = segmentIds.Select(id => new { segmentId = id, status }).ToArray(), segmentQualificationTime = window },
            evaluationInfo = new { segmentation },
            destination = new { datasetId = s.Output, segmentPerBatch = true },
            schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(s.Client, (long)created["id"]!, st => st is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());
        return job;
    }

    private static async Task<List<string>> EmailsAsync(Setup s, string batchId) =>
        (await RowsAsync(s, batchId, "personalEmail.address")).Select(r => (string)r[0]!).Order(StringComparer.Ordinal).ToList();

    private static async Task<List<object?[]>> RowsAsync(Setup s, string batchId, string columns)
    {
        string local = await ExportEndToEndTests.DownloadBatchAsync(s.Client, s.Output, batchId);
        if (Directory.GetFiles(local, "*.parquet").Length == 0) return [];
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        return DuckDb.Query($"select {columns} from read_parquet('{files}', union_by_name = true)");
    }
}
