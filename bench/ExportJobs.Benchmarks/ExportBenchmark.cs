using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Options;

namespace ExportJobs.Benchmarks;

/// <summary>
/// The export benchmark, run by <c>scripts/bench.sh</c> against a LocalHost process on Azurite: ingests N generated
/// profiles through the API, waits for the host's background compaction of the shards (timed), exports them all through
/// the API, exports them again (the steady state), and measures the floor — the same shard work (read the shard blobs,
/// merge, project, write the Parquet parts) run directly in this process with the same parallelism, without HTTP,
/// Durable Task or job records. Then GET /export/jobs/{id} under 32 connections (autocannon) against a bare
/// Table point read of the job's row under 32 concurrent readers. Prints one table.
/// </summary>
public sealed class ExportBenchmark(BenchEnvironment env)
{
    private const string Org = "1BD6382559DF0C130A49422D@AdobeOrg", Sandbox = "prod";
    private const int IngestBatch = 25_000, IngestConcurrency = 2;
    /// <summary>The name of the dataset the benchmark's exports write to.</summary>
    private const string OutputDataset = "export";
    /// <summary>The one-segment job (the DuckDB peer's query too): members of this segment, these fields.</summary>
    private const string OneSegment = "s1", OneSegmentFields = "identityMap,personalEmail.address";
    private static readonly string FloorFields = Environment.GetEnvironmentVariable("BENCH_FLOOR_FIELDS") ?? OneSegmentFields,
        FloorSegment = Environment.GetEnvironmentVariable("BENCH_FLOOR_SEGMENT") ?? OneSegment;
    private readonly Tenant _tenant = new(Org, Sandbox);
    /// <summary>The sandbox of the warm host's ingestion (scripts/bench.sh lets the export benchmark's host serve it).</summary>
    public const string WarmSandbox = "warm";
    private readonly List<(string Measure, string Value)> _rows = [];
    /// <summary>The host's collections and large-object allocations by phase, when asked for (<c>BENCH_GC_TRACE=1</c>).</summary>
    private HostGcTrace? _gcTrace;

    private IDisposable? Phase(string name) => _gcTrace?.Phase(name);

    public async Task<int> RunAsync(int count, bool events)
    {
        using var http = await env.ClientAsync(env.Api);
        await using var gcTrace = _gcTrace = HostGcTrace.StartIfAsked(env.HostPid, env.Work);
        var (profileSets, eventSet, output) = await CreateDatasetsAsync(http, events);

        var bodies = Bodies(profileSets, eventSet, count);
        var ingestRequestsBefore = env.AzuriteRequests();
        long hwmBefore = env.HostPeakRssBytes();
        var cpuBefore = env.CpuSeconds();
        var ingest = Stopwatch.StartNew();
        var batchesDone = new System.Collections.Concurrent.ConcurrentQueue<(TimeSpan At, long Records)>();
        long records;
        using (Phase("ingestion")) records = await IngestAsync(http, bodies, accepted => batchesDone.Enqueue((ingest.Elapsed, accepted)));
        ingest.Stop();
        var cpuAfter = env.CpuSeconds();
        Add("profiles", count.ToString("N0", CultureInfo.InvariantCulture));
        Add("records ingested (3 profile datasets" + (events ? ", events" : "") + ")", records.ToString("N0", CultureInfo.InvariantCulture));
        Add("ingest records/s", (records / ingest.Elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        Add("ingest records/s over the second half of the records", SecondHalfRate(batchesDone, records, ingest.Elapsed).ToString("N0", CultureInfo.InvariantCulture));
        Add("host peak RSS during ingestion, MB", Mb(Math.Max(hwmBefore, env.HostPeakRssBytes())));
        Add("CPU during ingestion: host s, Azurite s, share of the cores", Cpu(cpuBefore, cpuAfter, ingest.Elapsed));

        // The host compacts the shards once ingestion has been quiet for ExportStorageOptions.CompactionQuietSeconds:
        // its clock starts as ingestion ends, and Azurite's log is read for ingestion's requests during the quiet period.
        env.ResetHostPeakRss();
        cpuBefore = env.CpuSeconds();
        var compaction = Stopwatch.StartNew();
        var ingestRequests = env.AzuriteRequests();
        Add("Azurite requests during ingestion: Blob, Queue, Table", $"{ingestRequests.Blob - ingestRequestsBefore.Blob:N0}, {ingestRequests.Queue - ingestRequestsBefore.Queue:N0}, {ingestRequests.Table - ingestRequestsBefore.Table:N0}");
        using (Phase("compaction")) await WaitForCompactedShardsAsync();
        compaction.Stop();
        cpuAfter = env.CpuSeconds();
        Add($"background compaction after the last batch ({env.StorageOptions().CompactionQuietSeconds} s quiet period included), s", compaction.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));
        Add("ingest + compaction records/s", (records / (ingest.Elapsed + compaction.Elapsed).TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        Add("host peak RSS during compaction, MB", Mb(env.HostPeakRssBytes()));
        Add("CPU during compaction: host s, Azurite s, share of the cores", Cpu(cpuBefore, cpuAfter, compaction.Elapsed));
        Add("disk after compaction: the profile store's files, Azurite's whole folder, MB", await DiskAsync());

        env.ResetHostPeakRss();
        var requestsBefore = env.AzuriteRequests();
        cpuBefore = env.CpuSeconds();
        var export = Stopwatch.StartNew();
        JsonNode job;
        using (Phase("first whole-store export")) job = await ExportAsync(http, output);
        export.Stop();
        cpuAfter = env.CpuSeconds();
        var requestsAfter = env.AzuriteRequests();
        long exported = (long)job["metrics"]!["totalExportedProfileCounter"]!;
        Add("export end to end (first, after background compaction), s", export.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));
        Add("exported profiles/s", (exported / export.Elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        Add("host peak RSS during export, MB", Mb(env.HostPeakRssBytes()));
        Add("CPU during export: host s, Azurite s, share of the cores", Cpu(cpuBefore, cpuAfter, export.Elapsed));
        Add("Table transactions per exported profile", Per(requestsAfter.Table - requestsBefore.Table, exported));
        Add("Blob requests per exported profile", Per(requestsAfter.Blob - requestsBefore.Blob, exported));
        Add("Queue requests per exported profile", Per(requestsAfter.Queue - requestsBefore.Queue, exported));

        // The same export again: the steady state.
        env.ResetHostPeakRss();
        cpuBefore = env.CpuSeconds();
        var again = Stopwatch.StartNew();
        JsonNode jobAgain;
        using (Phase("second whole-store export")) jobAgain = await ExportAsync(http, output);
        again.Stop();
        cpuAfter = env.CpuSeconds();
        Add("second export, s", again.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));
        Add(JobTimesLabel("whole-store exports"), $"{JobTimes(job)}; {JobTimes(jobAgain)}");
        Add("second export profiles/s", (exported / again.Elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        Add("host peak RSS during second export, MB", Mb(env.HostPeakRssBytes()));
        Add("CPU during second export: host s, Azurite s, share of the cores", Cpu(cpuBefore, cpuAfter, again.Elapsed));

        var gcBefore = GcFigures.Now();
        var floor = await FloorAsync(job);
        var gc = GcFigures.Now() - gcBefore;
        Add("floor (same shard work on the compacted shards, no service), s", floor.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));
        Add("floor GC collections gen0/gen1/gen2, pause s, allocated GB", gc.ToString());
        Add("export / floor", (export.Elapsed.TotalSeconds / floor.TotalSeconds).ToString("N2", CultureInfo.InvariantCulture));
        Add("second export / floor", (again.Elapsed.TotalSeconds / floor.TotalSeconds).ToString("N2", CultureInfo.InvariantCulture));

        if (!events) await CompareWithPeerAsync(http, output, bodies, profileSets, exported, records, ingest.Elapsed, export.Elapsed, again.Elapsed);

        long id = (long)job["id"]!;
        double apiP99 = await env.AutocannonP99Async(env.Api + $"/export/jobs/{id}", http.DefaultRequestHeaders);
        double tableP99 = await PointReadP99Async(id);
        Add("GET /export/jobs/{id} p99, 32 connections, ms", apiP99.ToString("N1", CultureInfo.InvariantCulture));
        Add("bare Table point read p99, 32 concurrent, ms", tableP99.ToString("N1", CultureInfo.InvariantCulture));
        Add("GET p99 / point read p99", (apiP99 / tableP99).ToString("N2", CultureInfo.InvariantCulture));

        // The same records once more, into a sandbox of their own (a kept store's export tenant stays as it was), by the
        // host that has run everything above: ingestion without the fresh host's JIT compilations (about 23 s of them in
        // the first ingestion of N = 1,000,000).
        using var warmHttp = await env.ClientAsync(env.Api, WarmSandbox);
        var (warmSets, warmEvents, _) = await CreateDatasetsAsync(warmHttp, events);
        var warmOf = profileSets.Zip(warmSets).ToDictionary(d => d.First, d => d.Second);
        if (eventSet is not null) warmOf[eventSet] = warmEvents!;
        var warmBodies = bodies.Select(b => (Dataset: warmOf[b.Dataset], b.Body)).ToList();
        cpuBefore = env.CpuSeconds();
        var warm = Stopwatch.StartNew();
        long warmRecords;
        using (Phase("the warm host's ingestion")) warmRecords = await IngestAsync(warmHttp, warmBodies);
        warm.Stop();
        cpuAfter = env.CpuSeconds();
        Add("ingest records/s by the warm host (the same records again, into a sandbox of their own)", (warmRecords / warm.Elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        Add("CPU during the warm host's ingestion: host s, Azurite s, share of the cores", Cpu(cpuBefore, cpuAfter, warm.Elapsed));
        // Its compaction waited for too: left to the next host on a kept store (BENCH_KEEP=1), it would run beside that
        // host's first export (bash scripts/bench.sh exports) and take it from about 3 s to about 30.
        var warmCompaction = Stopwatch.StartNew();
        await WaitForCompactedShardsAsync(WarmSandbox);
        Add("background compaction after the warm host's last batch, s", warmCompaction.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));

        Console.WriteLine($"Export benchmark, N = {count:N0}, {Environment.ProcessorCount} cores, Azurite on loopback");
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        foreach (var (measure, value) in _rows) Console.WriteLine($"| {measure} | {value} |");
        if (_gcTrace is not null) await _gcTrace.ReportAsync();
        return 0;
    }

    /// <summary>
    /// The one-segment job and a segment job through the API, then DuckDB on the same records as NDJSON files doing the
    /// same two exports (whole store, one segment) and writing the segment's members, from the raw files and from loaded
    /// tables; adds the times and the service's ratios.
    /// Without events only: the peer's queries do not attach them.
    /// </summary>
    private async Task CompareWithPeerAsync(HttpClient http, string output, List<(string Dataset, byte[] Body)> bodies, string[] profileSets,
        long exported, long records, TimeSpan ingest, TimeSpan export, TimeSpan again)
    {
        var segment = Stopwatch.StartNew();
        JsonNode segmentJob;
        using (Phase("first one-segment export")) segmentJob = await ExportAsync(http, output, oneSegment: true);
        segment.Stop();
        long members = (long)segmentJob["metrics"]!["totalExportedProfileCounter"]!;
        // Again, as the whole store: a host still compiles code each job runs over its first few jobs (docs/performance.md).
        var segmentAgain = Stopwatch.StartNew();
        JsonNode segmentJobAgain;
        using (Phase("second one-segment export")) segmentJobAgain = await ExportAsync(http, output, oneSegment: true);
        segmentAgain.Stop();
        Add("one-segment export (s1: identityMap, personalEmail.address): first, second, s",
            $"{segment.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture)}, {segmentAgain.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture)}");
        Add(JobTimesLabel("one-segment exports"), $"{JobTimes(segmentJob)}; {JobTimes(segmentJobAgain)}");
        var gcBefore = GcFigures.Now();
        var floor = await FloorAsync(segmentJob);
        Add("one-segment floor, s; GC gen0/gen1/gen2, pause s, allocated GB", $"{floor.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture)}; {GcFigures.Now() - gcBefore}");

        env.ResetHostPeakRss();
        // A peak counts what the host held when the job began (what the exports before it left in its heap).
        long rssAtStart = env.HostRssBytes();
        TimeSpan segmentJobTime;
        long realized;
        using (Phase("segment job")) (segmentJobTime, realized) = await SegmentJobAsync(http);
        Add($"segment job ({EvaluatedSegment}), s; realized", $"{segmentJobTime.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture)}; {realized:N0}");
        Add("host peak RSS during the segment job, MB", Mb(env.HostPeakRssBytes()));
        Add("host RSS when the segment job began, MB", Mb(rssAtStart));

        string dir = Path.Combine(env.Work, "peer");
        Directory.CreateDirectory(dir);
        string[] names = ["crm", "loyalty", "preferences"];
        for (int d = 0; d < names.Length; d++)
        {
            await using var file = File.Create(Path.Combine(dir, names[d] + ".ndjson"));
            foreach (var (dataset, body) in bodies)
                if (dataset == profileSets[d]) await file.WriteAsync(body);
        }
        var peer = await env.DuckDbPeerAsync(dir);
        double Seconds(string measure) => (double)peer[measure]!["seconds"]!;
        long Rows(string measure) => (long)peer[measure]!["rows"]!;
        string Ratio(TimeSpan service, double peerSeconds) => (service.TotalSeconds / peerSeconds).ToString("N1", CultureInfo.InvariantCulture) + "×";
        string S(double seconds) => seconds.ToString("N2", CultureInfo.InvariantCulture);
        // The peer's median of its runs, and their spread: the ratios are to the median.
        string M(string measure) => $"{S(Seconds(measure))} ({S((double)peer[measure]!["spread"]![0]!)}–{S((double)peer[measure]!["spread"]![1]!)})";
        Add("rows: whole store, service / DuckDB", $"{exported:N0} / {Rows("rawWholeStore"):N0}" + (exported == Rows("rawWholeStore") ? "" : " DIFFER"));
        Add("rows: one segment, service / DuckDB", $"{members:N0} / {Rows("rawOneSegment"):N0}" + (members == Rows("rawOneSegment") ? "" : " DIFFER"));
        Add("rows: segment job's members, service / DuckDB", $"{realized:N0} / {Rows("rawSegmentJob"):N0}" + (realized == Rows("rawSegmentJob") ? "" : " DIFFER"));
        double load = Seconds("load");
        Add("DuckDB: load the NDJSON into tables, s, median of its runs (fastest–slowest); records/s", $"{M("load")}; {records / load:N0}");
        Add("DuckDB: whole store from raw NDJSON, from tables, s, median (fastest–slowest)", $"{M("rawWholeStore")}, {M("tableWholeStore")}");
        Add("DuckDB: one segment from raw NDJSON, from tables, s, median (fastest–slowest)", $"{M("rawOneSegment")}, {M("tableOneSegment")}");
        Add("DuckDB: the segment job's members from raw NDJSON, from tables, s, median (fastest–slowest)", $"{M("rawSegmentJob")}, {M("tableSegmentJob")}");
        Add("ingest / DuckDB load", Ratio(ingest, load));
        Add("whole store: first, second export / DuckDB from raw NDJSON", $"{Ratio(export, Seconds("rawWholeStore"))}, {Ratio(again, Seconds("rawWholeStore"))}");
        Add("one segment: first, second export / DuckDB from raw NDJSON", $"{Ratio(segment.Elapsed, Seconds("rawOneSegment"))}, {Ratio(segmentAgain.Elapsed, Seconds("rawOneSegment"))}");
        Add("segment job / DuckDB from raw NDJSON", Ratio(segmentJobTime, Seconds("rawSegmentJob")));
        Add("whole store, one segment / DuckDB from tables", $"{Ratio(again, Seconds("tableWholeStore"))}, {Ratio(segmentAgain.Elapsed, Seconds("tableOneSegment"))}");
    }

    private void Add(string measure, string value)
    {
        _rows.Add((measure, value));
        Console.Error.WriteLine($"{measure}: {value}");
    }

    /// <summary>What the garbage collector did in this process: collections by generation, pause time, bytes allocated.</summary>
    private readonly record struct GcFigures(int Gen0, int Gen1, int Gen2, TimeSpan Pause, long Allocated)
    {
        public static GcFigures Now() => new(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());

        public static GcFigures operator -(GcFigures a, GcFigures b) =>
            new(a.Gen0 - b.Gen0, a.Gen1 - b.Gen1, a.Gen2 - b.Gen2, a.Pause - b.Pause, a.Allocated - b.Allocated);

        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Gen0}/{Gen1}/{Gen2}, {Pause.TotalSeconds:N1}, {Allocated / 1e9:N1}");
    }

    /// <summary>The methods the JIT compiled in this process and its compile time, taken before and after a phase as <see cref="GcFigures"/> are.</summary>
    private readonly record struct JitFigures(long Methods, TimeSpan Time)
    {
        public static JitFigures Now() => new(System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());

        public static JitFigures operator -(JitFigures a, JitFigures b) => new(a.Methods - b.Methods, a.Time - b.Time);

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Methods:N0}, {Time.TotalSeconds:N2}");
    }

    /// <summary>CPU seconds of the host and of Azurite over a phase, and their sum as a share of all the cores' time.</summary>
    internal static string Cpu((double Host, double Azurite) before, (double Host, double Azurite) after, TimeSpan elapsed)
    {
        double host = after.Host - before.Host, azurite = after.Azurite - before.Azurite;
        return string.Create(CultureInfo.InvariantCulture, $"{host:N1}, {azurite:N1}, {(host + azurite) / (elapsed.TotalSeconds * Environment.ProcessorCount):P0}");
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("N0", CultureInfo.InvariantCulture);

    private static string JobTimesLabel(string exports) =>
        $"{exports}, first; second: the job's own time, s (metrics.totalTime, POST to SUCCEEDED as the service records it; profileExportTime, its shards' fan-out)";

    /// <summary>
    /// A succeeded job's own times, as its <c>metrics</c> give them: what the end-to-end time (timed here, from
    /// <c>POST</c> to the poll that sees <c>SUCCEEDED</c>) spends in the service, and of that in the shards' work.
    /// </summary>
    private static string JobTimes(JsonNode job) =>
        $"{InSeconds(job["metrics"]!["totalTime"]!)} ({InSeconds(job["metrics"]!["profileExportTime"]!)})";

    private static string InSeconds(JsonNode timing) => ((long)timing["totalTimeInMs"]! / 1000.0).ToString("N2", CultureInfo.InvariantCulture);

    private static string Per(long requests, long profiles) => $"{(double)requests / profiles:0.000000} ({requests:N0})";

    internal static async Task<(string[] Profiles, string? Events, string Output)> CreateDatasetsAsync(HttpClient http, bool events)
    {
        const string profile = SegmentDefinitionRules.ProfileSchema;
        var profiles = new[] { await CreateDatasetAsync(http, "crm", profile, BenchProfiles.CrmSchema, true), await CreateDatasetAsync(http, "loyalty", profile, BenchProfiles.LoyaltySchema, true),
            await CreateDatasetAsync(http, "preferences", profile, BenchProfiles.PreferencesSchema, true) };
        string? eventSet = events ? await CreateDatasetAsync(http, "events", Dataset.EventSchema, BenchProfiles.EventSchema, true) : null;
        return (profiles, eventSet, await CreateDatasetAsync(http, OutputDataset, profile, null, false));
    }

    /// <summary>Creates a dataset of the schema (with its definition, when given); returns its id.</summary>
    internal static async Task<string> CreateDatasetAsync(HttpClient http, string name, string schema, string? definition, bool profileEnabled)
    {
        var response = await http.PostAsJsonAsync("datasets", new { name, schema = new { name = schema, definition = definition is null ? null : JsonNode.Parse(definition) }, profileEnabled });
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"dataset refused: {await response.Content.ReadAsStringAsync()}");
        return (string)(await response.Content.ReadFromJsonAsync<JsonNode>())!["id"]!;
    }

    /// <summary>The benchmark's population (<see cref="BenchProfiles"/>) as bodies of <see cref="IngestBatch"/> profiles.</summary>
    internal static List<(string Dataset, byte[] Body)> Bodies(string[] profileSets, string? eventSet, int count)
    {
        var datasets = new List<(string, Func<int, IEnumerable<string>>)>
        {
            (profileSets[0], i => [BenchProfiles.Crm(i)]),
            (profileSets[1], i => [BenchProfiles.Loyalty(i)]),
            (profileSets[2], i => BenchProfiles.Preferences(i) is { } line ? [line] : []),
        };
        if (eventSet is not null) datasets.Add((eventSet, BenchProfiles.Events));
        return Bodies(count, datasets);
    }

    /// <summary>
    /// The lines of people 0 to <paramref name="count"/> − 1 of each dataset as NDJSON bodies of <see cref="IngestBatch"/>
    /// people, in turn by dataset within each range of people, generated before any is posted (so the generator's work is
    /// not timed as ingestion).
    /// </summary>
    internal static List<(string Dataset, byte[] Body)> Bodies(int count, IReadOnlyList<(string Dataset, Func<int, IEnumerable<string>> Lines)> datasets)
    {
        var batches = new List<(string Dataset, int From, Func<int, IEnumerable<string>> Lines)>();
        for (int from = 0; from < count; from += IngestBatch)
            foreach (var (dataset, lines) in datasets) batches.Add((dataset, from, lines));
        return batches.AsParallel().AsOrdered().Select(batch =>
        {
            var body = new StringBuilder();
            for (int i = batch.From; i < Math.Min(count, batch.From + IngestBatch); i++)
                foreach (var line in batch.Lines(i)) body.Append(line).Append('\n');
            return (batch.Dataset, Encoding.UTF8.GetBytes(body.ToString()));
        }).ToList();
    }

    /// <summary>A tenant's datasets (no events) with <paramref name="profiles"/> profiles ingested, untimed; returns its output dataset.</summary>
    internal static async Task<string> PrepareTenantAsync(HttpClient http, int profiles)
    {
        var (profileSets, _, output) = await CreateDatasetsAsync(http, events: false);
        await IngestAsync(http, Bodies(profileSets, null, profiles));
        return output;
    }

    /// <summary>
    /// The records accepted after the batch that brought the count to half of them, per second from that batch's
    /// answer to the last: how the rate moves once the host has run a while (a CPU profile of a fresh host put a fifth of
    /// its samples in the JIT from 10 to 22 s into the ingestion of N = 1,000,000).
    /// </summary>
    private static double SecondHalfRate(IEnumerable<(TimeSpan At, long Records)> batches, long records, TimeSpan end)
    {
        long sum = 0;
        foreach (var (at, accepted) in batches.OrderBy(b => b.At))
            if ((sum += accepted) >= records / 2) return (records - sum) / (end - at).TotalSeconds;
        return double.NaN;
    }

    /// <summary>Posts the bodies, <see cref="IngestConcurrency"/> at a time, telling <paramref name="done"/> each batch's records; returns the records accepted.</summary>
    internal static async Task<long> IngestAsync(HttpClient http, List<(string Dataset, byte[] Body)> bodies, Action<long>? done = null)
    {
        long accepted = 0;
        await Parallel.ForEachAsync(bodies, new ParallelOptions { MaxDegreeOfParallelism = IngestConcurrency }, async (batch, ct) =>
        {
            using var content = new ByteArrayContent(batch.Body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
            using var response = await http.PostAsync($"datasets/{batch.Dataset}/batches", content, ct);
            var answer = await response.Content.ReadFromJsonAsync<JsonNode>(ct);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"ingestion failed: {answer}");
            long records = (long)answer!["recordsAccepted"]!;
            Interlocked.Add(ref accepted, records);
            done?.Invoke(records);
        });
        return accepted;
    }

    /// <summary>
    /// Exports the whole store, or with <paramref name="oneSegment"/> the members of s1 (realized) with identityMap and
    /// personalEmail.address — the two jobs the DuckDB peer runs too. Returns the job once it has succeeded, asking
    /// for it every <paramref name="pollMs"/> (by default <see cref="PollMs"/>).
    /// </summary>
    internal static async Task<JsonNode> ExportAsync(HttpClient http, string output, bool oneSegment = false, int pollMs = PollMs, string? mergePolicyId = null)
    {
        var request = new JsonObject
        {
            ["destination"] = new JsonObject { ["datasetId"] = output },
            ["schema"] = new JsonObject { ["name"] = SegmentDefinitionRules.ProfileSchema },
        };
        if (mergePolicyId is not null) request["mergePolicy"] = new JsonObject { ["id"] = mergePolicyId };
        if (oneSegment)
        {
            request["fields"] = OneSegmentFields;
            request["filter"] = new JsonObject { ["segments"] = new JsonArray(new JsonObject { ["segmentId"] = OneSegment }) };
        }
        var response = await http.PostAsJsonAsync("export/jobs", request);
        var created = await response.Content.ReadFromJsonAsync<JsonNode>();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"export failed to start: {created}");
        return await SucceededAsync(http, $"export/jobs/{(long)created!["id"]!}", pollMs);
    }

    /// <summary>
    /// How often a job is asked for while the benchmark waits for it: a job's time end to end is over by less than
    /// this (by 100 ms on average at the 200 ms of earlier stops, a tenth of DuckDB's one-segment export).
    /// </summary>
    private const int PollMs = 50;

    /// <summary>The job at <paramref name="path"/> once it has succeeded, asked for every <paramref name="pollMs"/>; a job that fails or is cancelled throws.</summary>
    private static async Task<JsonNode> SucceededAsync(HttpClient http, string path, int pollMs)
    {
        while (true)
        {
            await Task.Delay(pollMs);
            var job = (await http.GetFromJsonAsync<JsonNode>(path))!;
            switch ((string?)job["status"])
            {
                case "SUCCEEDED": return job;
                case "FAILED" or "CANCELLED": throw new InvalidOperationException($"{path} ended {job["status"]}: {job}");
            }
        }
    }

    /// <summary>
    /// Defines the segment <see cref="EvaluatedSegment"/> and evaluates it in a segment job through the API (which
    /// records its members in the store, after the exports); returns the time from <c>POST</c> to <c>SUCCEEDED</c> and
    /// the segment's members.
    /// </summary>
    private static async Task<(TimeSpan Elapsed, long Realized)> SegmentJobAsync(HttpClient http)
    {
        var defined = await http.PostAsJsonAsync("segment/definitions", new JsonObject
        {
            ["name"] = "bench points",
            ["expression"] = new JsonObject { ["type"] = "PQL", ["format"] = "pql/text", ["value"] = EvaluatedSegment },
            ["schema"] = new JsonObject { ["name"] = SegmentDefinitionRules.ProfileSchema },
        });
        var definition = await defined.Content.ReadFromJsonAsync<JsonNode>();
        if (!defined.IsSuccessStatusCode) throw new InvalidOperationException($"the segment was not defined: {definition}");
        string id = (string)definition!["id"]!;
        var watch = Stopwatch.StartNew();
        var response = await http.PostAsJsonAsync("segment/jobs", new JsonArray(new JsonObject { ["segmentId"] = id }));
        var created = await response.Content.ReadFromJsonAsync<JsonNode>();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"the segment job failed to start: {created}");
        var job = await SucceededAsync(http, $"segment/jobs/{(string)created!["id"]!}", PollMs);
        return (watch.Elapsed, (long)job["metrics"]!["segmentedProfileCounter"]![id]!);
    }

    /// <summary>
    /// What the store takes on disk: the bytes of the sandbox's profile fragment files (what a storage account would hold
    /// of them), and everything the emulator keeps in its folder (the task hub, the datasets' batches, files deleted but
    /// not yet collected).
    /// </summary>
    private async Task<string> DiskAsync()
    {
        long profiles = (await NewProfileStore().ListShardSizesAsync(FragmentKind.Profile, _tenant, default)).Values.Sum();
        var folder = new DirectoryInfo(Path.Combine(env.Work, "azurite"));
        // BENCH_AZURITE_MEMORY=1: the emulator keeps its data in memory.
        string emulator = folder.Exists ? Mb(folder.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)) : "in memory";
        return $"{Mb(profiles)}, {emulator}";
    }

    /// <summary>The profile store, read from here as the hosts read it.</summary>
    private ProfileStore NewProfileStore()
    {
        var options = Options.Create(env.StorageOptions());
        return new ProfileStore(new StorageClients(options), options, env.Cache);
    }

    /// <summary>
    /// Waits until no shard of the sandbox (the exports') has more files than an export reads, nor covered runs, which
    /// background compaction deletes at once when no job reads the shards (what it brings about).
    /// </summary>
    internal async Task WaitForCompactedShardsAsync(string sandbox = Sandbox)
    {
        var tenant = new Tenant(Org, sandbox);
        var options = Options.Create(env.StorageOptions());
        var clients = new StorageClients(options);
        var store = new ProfileStore(clients, options, env.Cache);
        var deadline = Stopwatch.StartNew();
        // Until every shard is down to what the background leaves (not only under the bound a read compacts to), so the
        // first export does not run beside it. One shard at a time, once a second: the listing is light next to the
        // compaction it waits for.
        int settled = new ShardCompactor(store, options, TimeProvider.System, env.Cache, new RunningJobs(clients)).SettledShardRuns;
        var shards = await store.ListShardsAsync(FragmentKind.Profile, tenant, default);
        foreach (int shard in shards)
            while (await store.CountLiveFilesAsync(FragmentKind.Profile, tenant, shard, default) > settled)
            {
                if (deadline.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("The shards were not compacted within 10 minutes.");
                await Task.Delay(1_000);
            }
        // Then until the covered runs are deleted, for at most CoveredWait: at N = 10,000,000 the emulator deletes a few a
        // second (docs/performance.md), and the exports go on beside the rest.
        var deleting = Stopwatch.StartNew();
        int left = 0;
        foreach (int shard in shards)
        {
            int covered;
            while ((covered = (await store.ListRunsAsync(FragmentKind.Profile, tenant, shard, default)).Covered.Count) > 0 && deleting.Elapsed < CoveredWait)
                await Task.Delay(1_000);
            left += covered;
        }
        if (left > 0) Console.WriteLine($"{left:N0} covered runs of {sandbox} not deleted yet after {CoveredWait.TotalMinutes:N0} minutes; going on beside their deletion.");
    }

    private static readonly TimeSpan CoveredWait = TimeSpan.FromMinutes(3);

    /// <summary>The id of the dataset the exports write to, in a store a run of the export benchmark kept.</summary>
    private async Task<string> KeptOutputAsync() =>
        (await new DatasetStore(new StorageClients(Options.Create(env.StorageOptions()))).ListAsync(_tenant, default)).Single(d => d.Name == OutputDataset).Id;

    /// <summary>
    /// The one-segment export (with <paramref name="wholeStore"/>, the whole-store export) through the API of a host on
    /// the store a run of the export benchmark kept, <paramref name="repeats"/> times (<c>bash scripts/bench.sh exports R</c>):
    /// beside the floors on the same store, what the service adds to the shard work, and the CPU of each.
    /// </summary>
    public async Task<int> ExportsAsync(int repeats, bool wholeStore)
    {
        using var http = await env.ClientAsync(env.Api);
        string output = await KeptOutputAsync();
        for (int r = 0; r < repeats; r++)
        {
            env.ResetHostPeakRss();
            var cpuBefore = env.CpuSeconds();
            var watch = Stopwatch.StartNew();
            var job = await ExportAsync(http, output, oneSegment: !wholeStore);
            watch.Stop();
            Console.WriteLine($"{(wholeStore ? "whole store" : "one segment")}: {watch.Elapsed.TotalSeconds:N1} s, the job's own {JobTimes(job)} s; CPU host s, Azurite s, share of the cores {Cpu(cpuBefore, env.CpuSeconds(), watch.Elapsed)}; host peak RSS {Mb(env.HostPeakRssBytes())} MB");
        }
        return 0;
    }

    /// <summary>
    /// The floors (whole store, one segment; then a segment evaluation reading every member, and reading the members its
    /// PQL reads — over events too when the store has them), <paramref name="repeats"/> times each, on the store a run of
    /// the export benchmark kept (<c>BENCH_KEEP=1 bash scripts/bench.sh export N</c>, then
    /// <c>bash scripts/bench.sh floors</c>): a quick loop for work on the shard reads. With <paramref name="oneSegmentOnly"/>
    /// (<c>floors R segment</c>), the one-segment floor alone, R times: rounds short enough to interleave settings.
    /// Its job can be taken apart: <c>BENCH_FLOOR_FIELDS</c> sets its fields (<c>*</c>: every field), <c>BENCH_FLOOR_SEGMENT</c> its segment
    /// (<c>none</c>: no filter); with <c>BENCH_ALLOC=1</c> the allocations sampled by the runtime are listed by type at the end, and the collections by generation and reason.
    /// Each round prints the methods the JIT compiled during it and the time it took: a round that still compiles is not yet the steady state.
    /// </summary>
    public async Task<int> FloorsAsync(int repeats, bool oneSegmentOnly = false)
    {
        using var allocations = Environment.GetEnvironmentVariable("BENCH_ALLOC") is null ? null : new SampledAllocations();
        string output = await KeptOutputAsync();
        for (int r = 0; r < repeats; r++)
            foreach (bool oneSegment in oneSegmentOnly ? [true] : new[] { false, true })
            {
                var job = new ExportJob
                {
                    Id = r, Destination = new JobDestination { DatasetId = output, BatchId = $"floors{r}{oneSegment}" },
                    Schema = new SchemaRef { Name = SegmentDefinitionRules.ProfileSchema }, ImsOrgId = Org, Status = "PROCESSING",
                    Fields = oneSegment && FloorFields != "*" ? FloorFields : null,
                    Filter = oneSegment && FloorSegment != "none" ? new JobFilter { Segments = [new SegmentSelector { SegmentId = FloorSegment }] } : null,
                };
                var gcBefore = GcFigures.Now();
                var (cpu, azurite) = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, env.CpuSeconds().Azurite);
                var jitBefore = JitFigures.Now();
                var floor = await FloorAsync(job);
                Console.WriteLine($"{(oneSegment ? "one segment" : "whole store")}: {floor.TotalSeconds:N1} s; CPU s here, Azurite {Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpu:N1}, {env.CpuSeconds().Azurite - azurite:N1}; GC gen0/gen1/gen2, pause s, allocated GB {GcFigures.Now() - gcBefore}; JIT methods, s {JitFigures.Now() - jitBefore}; local copies: {env.Cache.Hits:N0} files read from them, {env.Cache.Misses:N0} fetched ({env.Cache.Passing:N0} of them into passing copies), {env.Cache.Bytes / 1e6:N0} MB held");
                if (oneSegmentOnly) continue;
                gcBefore = GcFigures.Now();
                (cpu, azurite) = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, env.CpuSeconds().Azurite);
                var read = await ReadOnlyAsync(job);
                Console.WriteLine($"  of which the shard reads alone (no merge, no output): {read.TotalSeconds:N1} s; CPU {Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpu:N1}, {env.CpuSeconds().Azurite - azurite:N1}; GC {GcFigures.Now() - gcBefore}");
            }
        if (oneSegmentOnly) return 0;
        bool withEvents = (await NewProfileStore().ListShardsAsync(FragmentKind.Event, _tenant, default)).Count > 0;
        for (int r = 0; r < repeats; r++)
            foreach (string definition in withEvents ? [EvaluatedSegment, EvaluatedEventSegment] : new[] { EvaluatedSegment })
                foreach (bool everyMember in new[] { true, false })
                {
                    var gcBefore = GcFigures.Now();
                    var (cpu, azurite) = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, env.CpuSeconds().Azurite);
                    var (elapsed, realized) = await EvaluationFloorAsync(definition, everyMember);
                    Console.WriteLine($"segment evaluation ({definition}; {realized:N0} realized), {(everyMember ? "every member read" : "the members it reads")}: {elapsed.TotalSeconds:N1} s; CPU s here, Azurite {Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpu:N1}, {env.CpuSeconds().Azurite - azurite:N1}; GC {GcFigures.Now() - gcBefore}");
                }
        return 0;
    }

    private const string EvaluatedSegment = "loyalty.points >= 50000";
    /// <summary>What the floors evaluate over events, on a store with events (<c>export N --events</c>).</summary>
    private const string EvaluatedEventSegment = "xEvent[eventType = \"commerce.purchases\"].count() > 0";

    /// <summary>
    /// A segment job's shard work, every shard evaluated against <paramref name="definition"/> and counted as its
    /// activity does (no membership written): decoding the members of profiles and events the definition reads (and the
    /// stored memberships), or with <paramref name="everyMember"/> every member, as evaluation did before it named them.
    /// </summary>
    private async Task<(TimeSpan Elapsed, long Realized)> EvaluationFloorAsync(string definition, bool everyMember)
    {
        var options = Options.Create(env.StorageOptions());
        var (store, profiles) = ShardReaders(options, new StorageClients(options), env.Cache);
        var shards = await store.ListShardsAsync(FragmentKind.Profile, _tenant, default);
        long realized = 0;
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxShardReadsPerHost }, async (shard, ct) =>
        {
            var evaluation = SegmentEvaluation.Compile(new Dictionary<string, string> { ["bench"] = definition }, DateTimeOffset.UtcNow);
            var reading = new ShardReading(MergeRule.Of(null), evaluation, null, 0, evaluation.UsesEvents, false, everyMember ? null : evaluation.MembersRead,
                EventMembers: everyMember ? null : evaluation.EventMembersRead);
            var counts = new SegmentCounts();
            await foreach (var profile in profiles.ReadAsync(_tenant, shard, reading, ct)) counts.Count("bench", profile);
            Interlocked.Add(ref realized, counts.ToResult().Realized);
        });
        return (watch.Elapsed, realized);
    }

    /// <summary>Every shard read through, as the job's floor reads it (the same members), with nothing done with its fragments.</summary>
    private async Task<TimeSpan> ReadOnlyAsync(ExportJob job)
    {
        var members = ShardExporter.MembersRead(FieldProjection.Parse(job.Fields), new ExportSelection(job.Filter), evaluation: null);
        var options = Options.Create(env.StorageOptions());
        var store = new ProfileStore(new StorageClients(options), options, env.Cache);
        var shards = await store.ListShardsAsync(FragmentKind.Profile, _tenant, default);
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxShardReadsPerHost }, async (shard, ct) =>
        {
            await foreach (var _ in store.ReadShardAsync(FragmentKind.Profile, _tenant, shard, ct, members: MemberSelection.Of(members))) { }
        });
        return watch.Elapsed;
    }

    /// <summary>The floor: every shard of the job exported by <see cref="ShardExporter"/> directly, into a scratch batch, as many at once as a host reads.</summary>
    private Task<TimeSpan> FloorAsync(JsonNode jobJson)
    {
        var job = JsonSerializer.Deserialize(jobJson.ToJsonString(), CoreJson.Wire.ExportJob)!;
        return FloorAsync(job with { Destination = job.Destination with { BatchId = "floor" + job.Destination.BatchId } });
    }

    private async Task<TimeSpan> FloorAsync(ExportJob job)
    {
        var options = Options.Create(env.StorageOptions());
        var clients = new StorageClients(options);
        var (store, profiles) = ShardReaders(options, clients, env.Cache);
        var exporter = new ShardExporter(profiles, new DatasetBatchFiles(clients), new ChangeStates(clients), options);
        // The job's columns, as the service resolves them when it creates the job: the union of the profile datasets'
        // schemas, projected by its fields.
        var (outputSchema, problem) = ExportSchema.Resolve(new ExportJobRequest { Fields = job.Fields, AdditionalFields = job.AdditionalFields, Incremental = job.Incremental },
            await new DatasetStore(clients).ListAsync(_tenant, default));
        if (problem is not null) throw new InvalidOperationException($"The floor's job would be refused: {problem.Field}: {problem.Message}");
        var shards = await store.ListShardsAsync(FragmentKind.Profile, _tenant, default);
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = options.Value.MaxShardReadsPerHost },
            async (shard, ct) => await exporter.ExportAsync(_tenant, job, outputSchema, null, [shard], graphs: null, routes: null, ct));
        return watch.Elapsed;
    }

    /// <summary>The profile store and the shard reads of a host, built as the service builds them.</summary>
    private static (ProfileStore Store, ShardProfiles Profiles) ShardReaders(IOptions<ExportStorageOptions> options, StorageClients clients, FragmentFileCache cache)
    {
        var store = new ProfileStore(clients, options, cache);
        var compactor = new ShardCompactor(store, options, TimeProvider.System, cache, new RunningJobs(clients));
        var gate = new ShardReadGate(options);
        var shuffle = new GraphShuffle(store, compactor, new GraphFiles(clients, options), gate, Microsoft.Extensions.Logging.Abstractions.NullLogger<GraphShuffle>.Instance);
        return (store, new ShardProfiles(store, compactor, shuffle, gate));
    }

    /// <summary>p99 of reading the job's Table row directly, 32 readers at once for 10 seconds.</summary>
    private async Task<double> PointReadP99Async(long id)
    {
        var o = env.StorageOptions();
        var table = new TableServiceClient(o.StorageConnection).GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.JobsTable));
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var until = DateTime.UtcNow.AddSeconds(10);
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            while (DateTime.UtcNow < until)
            {
                long start = Stopwatch.GetTimestamp();
                await table.GetEntityAsync<TableEntity>(_tenant.Key, JobStore.RowKeyOf(id));
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        var sorted = latencies.Order().ToArray();
        return sorted[(int)Math.Ceiling(sorted.Length * 0.99) - 1];
    }
}
