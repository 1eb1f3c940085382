using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;
using static ExportJobs.EndToEnd.Tests.SemanticsData;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// Every filter of the payload, alone and in pairs, and both merge policies, on one generated population: each job's
/// output is read back with DuckDB and compared with what the model says it must hold.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class SemanticsTests(LocalHostFixture host)
{
    private const string Sandbox = "semantics";
    private static readonly DateTimeOffset WindowStart = new(2018, 2, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset WindowEnd = new(2018, 3, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly SemaphoreSlim Once = new(1, 1);
    private static Setup? _setup;

    private sealed record Setup(
        HttpClient Client, SemanticsData Data, string Output, string DatasetA, string DatasetB, long A1Time, long BTime, long A2Time,
        string AOverB, string BOverA, long E1Time, long E2Time);

    private async Task<Setup> SetUpAsync()
    {
        await Once.WaitAsync();
        try
        {
            if (_setup is not null) return _setup;
            var client = host.Client(Sandbox);
            var data = new SemanticsData(600);
            string a = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
            string b = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
            long a1 = (long)(await LocalHostFixture.PostLinesAsync(client, a, data.A1Lines(), gzip: false))["created"]!;
            long bt = (long)(await LocalHostFixture.PostLinesAsync(client, b, data.BLines(), gzip: true))["created"]!;
            long a2 = (long)(await LocalHostFixture.PostLinesAsync(client, a, data.A2Lines(), gzip: false))["created"]!;
            Assert.True(a1 < bt && bt < a2, "the three batches were ingested one after the other");
            async Task<string> PolicyAsync(string name, string[] order) => (string)(await LocalHostFixture.ReadAsync(
                await client.PostAsJsonAsync("config/mergePolicies", new { name, attributeMerge = new { type = "dataSetPrecedence", order } }),
                HttpStatusCode.Created))["id"]!;
            var events = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets",
                new { name = "events", schema = new { name = "_xdm.context.experienceevent" }, profileEnabled = true }), HttpStatusCode.Created))["id"]!;
            long e1 = (long)(await LocalHostFixture.PostLinesAsync(client, events, data.EventLines(1), gzip: false))["created"]!;
            long e2 = (long)(await LocalHostFixture.PostLinesAsync(client, events, data.EventLines(2), gzip: true))["created"]!;
            _setup = new Setup(client, data, await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false), a, b, a1, bt, a2,
                await PolicyAsync("A over B", [a, b]), await PolicyAsync("B over A", [b, a]), e1, e2);
            return _setup;
        }
        finally
        {
            Once.Release();
        }
    }

    private static bool Member(Person p, string segment, params string[] statuses) => Member(p, "ups", segment, statuses);

    private static bool Member(Person p, string ns, string segment, string[] statuses, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        p.Memberships.Any(m => m.Namespace == ns && m.Segment == segment && statuses.Contains(m.Status) &&
                               (from is null || m.Qualified >= from) && (to is null || m.Qualified <= to));

    private static long UpdateTime(Person p, Setup s) => p.InA2 ? s.A2Time : p.InB ? s.BTime : s.A1Time;

    private static string Rfc3339(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");

    private static object Segment(string id, string[]? status = null, string? ns = null) => new { segmentId = id, segmentNs = ns, status };

    private static object Window(DateTimeOffset? start, DateTimeOffset? end) => new { startTime = start?.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"), endTime = end?.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'") };

    /// <summary>A case: the job's filter and merge policy, and which people the model says it exports (with which name rule).</summary>
    private sealed record Case(string Name, Func<Setup, object?> Filter, Func<Setup, Person, bool> Expected, string Policy = "timestampOrdered");

    private static readonly Dictionary<string, Case> Cases = new Case[]
    {
        new("segment, default status realized", _ => new { segments = new[] { Segment("s1") } }, (_, p) => Member(p, "s1", "realized")),
        new("segment, status exited", _ => new { segments = new[] { Segment("s1", ["exited"]) } }, (_, p) => Member(p, "s1", "exited")),
        new("segment, both statuses", _ => new { segments = new[] { Segment("s1", ["realized", "exited"]) } }, (_, p) => Member(p, "s1", "realized", "exited")),
        new("segment namespace", _ => new { segments = new[] { Segment("s1", ns: "aam") } }, (_, p) => Member(p, "aam", "s1", ["realized"])),
        new("two segments (a profile in both is exported once)", _ => new { segments = new[] { Segment("s1"), Segment("s2") } },
            (_, p) => Member(p, "s1", "realized") || Member(p, "s2", "realized")),
        new("qualification window, start only", _ => new { segments = new[] { Segment("s2") }, segmentQualificationTime = Window(WindowStart, null) },
            (_, p) => Member(p, "ups", "s2", ["realized"], from: WindowStart)),
        new("qualification window, end only", _ => new { segments = new[] { Segment("s2") }, segmentQualificationTime = Window(null, WindowEnd) },
            (_, p) => Member(p, "ups", "s2", ["realized"], to: WindowEnd)),
        new("qualification window, both bounds", _ => new { segments = new[] { Segment("s2") }, segmentQualificationTime = Window(WindowStart, WindowEnd) },
            (_, p) => Member(p, "ups", "s2", ["realized"], WindowStart, WindowEnd)),
        new("fromIngestTimestamp, no segment filter", s => new { fromIngestTimestamp = Rfc3339(s.BTime) }, (s, p) => UpdateTime(p, s) > s.BTime),
        new("fromIngestTimestamp and a segment", s => new { segments = new[] { Segment("s3") }, fromIngestTimestamp = Rfc3339(s.A1Time) },
            (s, p) => Member(p, "s3", "realized") && UpdateTime(p, s) > s.A1Time),
        new("window and both statuses", _ => new { segments = new[] { Segment("s1", ["realized", "exited"]) }, segmentQualificationTime = Window(WindowStart, WindowEnd) },
            (_, p) => Member(p, "ups", "s1", ["realized", "exited"], WindowStart, WindowEnd)),
        new("window and fromIngestTimestamp", s => new { segments = new[] { Segment("s1") }, segmentQualificationTime = Window(null, WindowEnd), fromIngestTimestamp = Rfc3339(s.A1Time) },
            (s, p) => Member(p, "ups", "s1", ["realized"], to: WindowEnd) && UpdateTime(p, s) > s.A1Time),
        new("no filter: every profile", _ => null, (_, _) => true),
        new("merge policy dataSetPrecedence A over B", _ => new { segments = new[] { Segment("s1", ["realized", "exited"]) } },
            (_, p) => Member(p, "s1", "realized", "exited"), Policy: "A-over-B"),
        new("merge policy dataSetPrecedence B over A", _ => new { segments = new[] { Segment("s1", ["realized", "exited"]) } },
            (_, p) => Member(p, "s1", "realized", "exited"), Policy: "B-over-A"),
    }.ToDictionary(c => c.Name);

    public static TheoryData<string> CaseNames => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Each_filter_selects_exactly_the_profiles_the_model_selects(string name)
    {
        var s = await SetUpAsync();
        var test = Cases[name];
        var expected = s.Data.People.Where(p => test.Expected(s, p))
            .Select(p => $"{p.Email}|{NameBy(p, test.Policy)}").Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expected);
        if (test.Filter(s) is not null) Assert.True(expected.Count < s.Data.People.Count, "the filter changes the result on this data");

        object? mergePolicy = test.Policy switch { "A-over-B" => new { id = s.AOverB }, "B-over-A" => new { id = s.BOverA }, _ => null };
        var job = await RunAsync(s, new
        {
            fields = "personalEmail.address,person.name.firstName",
            filter = test.Filter(s),
            mergePolicy,
            destination = new { datasetId = s.Output },
            schema = new { name = "_xdm.context.profile" },
        });

        var rows = await ReadRowsAsync(s, (string)job["destination"]!["batchId"]!);
        Assert.Equal(expected, rows);
        Assert.Equal(expected.Count, (long)job["metrics"]!["totalExportedProfileCounter"]!);
    }

    public static TheoryData<string> EventWindows => new() { "no window", "from batch 1 on", "before batch 2" };

    [Theory]
    [MemberData(nameof(EventWindows))]
    public async Task Events_are_attached_projected_ordered_and_windowed_by_ingest_time(string window)
    {
        var s = await SetUpAsync();
        object? filter = window switch
        {
            "from batch 1 on" => new { fromIngestTimestamp = Rfc3339(s.E1Time) },
            "before batch 2" => new { toIngestTimestamp = Rfc3339(s.E2Time) },
            _ => null,
        };
        Func<Event, bool> kept = window switch
        {
            "from batch 1 on" => e => e.Batch == 2,
            "before batch 2" => e => e.Batch == 1,
            _ => _ => true,
        };
        var job = await RunAsync(s, new
        {
            fields = "personalEmail.address",
            filter = new { segments = new[] { Segment("s1") } },
            additionalFields = new { eventList = new { fields = "_id,eventType", filter } },
            destination = new { datasetId = s.Output },
            schema = new { name = "_xdm.context.profile" },
        });

        var expected = s.Data.People.Where(p => Member(p, "s1", "realized"))
            .Select(p => $"{p.Email}|{string.Join(",", p.Events.Where(kept).OrderBy(e => e.Timestamp).ThenBy(e => e.Id, StringComparer.Ordinal).Select(e => e.Id))}")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Contains(expected, e => !e.EndsWith('|'));
        string local = await ExportEndToEndTests.DownloadBatchAsync(s.Client, s.Output, (string)job["destination"]!["batchId"]!);
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        var rows = DuckDb.Query($"""
            select personalEmail.address || '|' || coalesce(array_to_string(list_transform(events, e -> e._id), ','), ''), coalesce(to_json(events)::varchar, '[]')
            from read_parquet('{files}', union_by_name = true)
            """);
        Assert.Equal(expected, rows.Select(r => (string)r[0]!).Order(StringComparer.Ordinal));
        foreach (var events in rows.Select(r => JsonNode.Parse((string)r[1]!)!.AsArray()))
            Assert.All(events, e => Assert.Equal(["_id", "eventType"], e!.AsObject().Select(kv => kv.Key).Order()));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Empty_profiles_are_exported_only_when_asked(bool emptyProfiles)
    {
        var s = await SetUpAsync();
        var job = await RunAsync(s, new
        {
            fields = "identityMap",
            filter = new { emptyProfiles },
            destination = new { datasetId = s.Output },
            schema = new { name = "_xdm.context.profile" },
        });

        var expected = s.Data.People.Select(p => p.Email).Concat(emptyProfiles ? s.Data.Ghosts.Select(g => g.Email) : []).Order(StringComparer.Ordinal).ToList();
        Assert.True(s.Data.Ghosts.Count > 0);
        string local = await ExportEndToEndTests.DownloadBatchAsync(s.Client, s.Output, (string)job["destination"]!["batchId"]!);
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        var rows = DuckDb.Query($"select identityMap.email[1].id from read_parquet('{files}', union_by_name = true)");
        Assert.Equal(expected, rows.Select(r => (string)r[0]!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_merge_policies_disagree_on_this_data()
    {
        var s = await SetUpAsync();
        var names = new[] { "timestampOrdered", "A-over-B", "B-over-A" }
            .Select(policy => s.Data.People.Select(p => NameBy(p, policy)).ToList()).ToList();
        Assert.NotEqual(names[0], names[1]);
        Assert.NotEqual(names[0], names[2]);
        Assert.NotEqual(names[1], names[2]);
    }

    [Fact]
    public async Task Segment_per_batch_writes_one_batch_per_segment_with_its_members()
    {
        var s = await SetUpAsync();
        var job = await RunAsync(s, new
        {
            fields = "personalEmail.address,person.name.firstName",
            filter = new { segments = Segments.Select(id => Segment(id)).ToArray() },
            destination = new { datasetId = s.Output, segmentPerBatch = true },
            schema = new { name = "_xdm.context.profile" },
        });

        Assert.Null(job["destination"]!["batchId"]);
        var batches = job["destination"]!["batches"]!.AsArray();
        Assert.Equal(Segments, batches.Select(b => (string)b!["segmentId"]!));
        Assert.Equal(3, batches.Select(b => (string)b!["batchId"]!).Distinct().Count());
        var bySegment = job["metrics"]!["exportedProfileBySegmentCounter"]!.AsArray();
        long total = 0;
        for (int i = 0; i < Segments.Length; i++)
        {
            var expected = s.Data.People.Where(p => Member(p, Segments[i], "realized"))
                .Select(p => $"{p.Email}|{NameBy(p, "timestampOrdered")}").Order(StringComparer.Ordinal).ToList();
            Assert.Equal(expected, await ReadRowsAsync(s, (string)batches[i]!["batchId"]!));
            Assert.Equal(expected.Count, (long)bySegment[i]!["count"]!);
            total += expected.Count;
        }
        Assert.Equal(total, (long)job["metrics"]!["totalExportedProfileCounter"]!);
        Assert.True(total > s.Data.People.Count(p => Segments.Any(seg => Member(p, seg, "realized"))), "some profiles are in several segments and appear in each batch");
    }

    [Fact]
    public async Task An_unknown_merge_policy_or_a_stale_version_is_refused()
    {
        var s = await SetUpAsync();
        var payload = (object? policy) => new { mergePolicy = policy, destination = new { datasetId = s.Output }, schema = new { name = "_xdm.context.profile" } };
        var problem = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("export/jobs", payload(new { id = "no-such-policy" })), HttpStatusCode.BadRequest);
        Assert.Equal("mergePolicy.id", (string)problem["field"]!);
        problem = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("export/jobs", payload(new { id = s.AOverB, version = 7 })), HttpStatusCode.BadRequest);
        Assert.Equal("mergePolicy.version", (string)problem["field"]!);
    }

    private static async Task<JsonNode> RunAsync(Setup s, object payload)
    {
        var created = await LocalHostFixture.ReadAsync(await s.Client.PostAsJsonAsync("export/jobs", payload), HttpStatusCode.OK);
        var job = await LocalHostFixture.WaitForJobAsync(s.Client, (long)created["id"]!, st => st is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.True((string)job["status"]! == "SUCCEEDED", job.ToJsonString());
        return job;
    }

    /// <summary>The batch's rows as "email|firstName", read with DuckDB from the files the API serves.</summary>
    private static async Task<List<string>> ReadRowsAsync(Setup s, string batchId)
    {
        string local = await ExportEndToEndTests.DownloadBatchAsync(s.Client, s.Output, batchId);
        if (Directory.GetFiles(local, "*.parquet").Length == 0) return [];
        string files = Path.Combine(local, "*.parquet").Replace("'", "''");
        return DuckDb.Query($"select personalEmail.address || '|' || person.name.firstName from read_parquet('{files}', union_by_name = true)")
            .Select(r => (string)r[0]!).Order(StringComparer.Ordinal).ToList();
    }
}
