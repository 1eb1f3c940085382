using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace ExportJobs.Benchmarks;

/// <summary>
/// Small exports, where the service's fixed costs (job records, the orchestration's steps, queue hops) rather than the
/// data dominate: a one-segment export of a tenant with 1,000 profiles, POST to SUCCEEDED, ten times one after the other;
/// then 10 tenants (sandboxes) of 5,000 profiles each running 5 such exports at once, with GET /export/jobs/{id} p99
/// under that load against idle.
/// </summary>
public sealed class SmallJobsBenchmark(BenchEnvironment env)
{
    private const int Tenants = 10, JobsPerTenant = 5, SmallProfiles = 1_000, TenantProfiles = 5_000, Runs = 10;
    private readonly List<(string Measure, string Value)> _rows = [];

    public async Task<int> RunAsync()
    {
        using var small = await env.ClientAsync(env.Api, "small");
        string smallOutput = await ExportBenchmark.PrepareTenantAsync(small, SmallProfiles);
        // The first job warms the host (its JIT, connections, the queues' polling); the next ones are measured.
        var warm = await ExportBenchmark.ExportAsync(small, smallOutput, oneSegment: true, pollMs: 10);
        var latencies = new List<double>();
        for (int run = 0; run < Runs; run++)
        {
            var watch = Stopwatch.StartNew();
            var job = await ExportBenchmark.ExportAsync(small, smallOutput, oneSegment: true, pollMs: 10);
            latencies.Add(watch.Elapsed.TotalSeconds);
            if (run == 0) Add("rows of one small export", ((long)job["metrics"]!["totalExportedProfileCounter"]!).ToString("N0", CultureInfo.InvariantCulture));
        }
        Add($"small export ({SmallProfiles:N0} profiles, one segment), POST to SUCCEEDED, median of {Runs} (min–max), s",
            $"{Median(latencies):N2} ({latencies.Min():N2}–{latencies.Max():N2})");

        var tenants = new List<(HttpClient Http, string Output)>();
        for (int t = 0; t < Tenants; t++)
        {
            var http = await env.ClientAsync(env.Api, $"small{t}");
            tenants.Add((http, await ExportBenchmark.PrepareTenantAsync(http, TenantProfiles)));
        }
        string probe = env.Api + $"/export/jobs/{(long)warm["id"]!}";
        double idleP99 = await env.AutocannonP99Async(probe, small.DefaultRequestHeaders);

        // The 50 jobs timed alone, then again with GET p99 measured while they run (autocannon's load slows them).
        var cpuBefore = env.CpuSeconds();
        var all = Stopwatch.StartNew();
        await Task.WhenAll(StartAll(tenants));
        all.Stop();
        string cpu = ExportBenchmark.Cpu(cpuBefore, env.CpuSeconds(), all.Elapsed);
        var loaded = StartAll(tenants);
        double loadP99 = await env.AutocannonP99Async(probe, small.DefaultRequestHeaders);
        await Task.WhenAll(loaded);
        Add($"{Tenants} tenants x {JobsPerTenant} concurrent one-segment exports of {TenantProfiles:N0} profiles: all SUCCEEDED in, s", all.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));
        Add("CPU during the 50 exports: host s, Azurite s, share of the cores", cpu);
        Add("GET /export/jobs/{id} p99 idle, ms", idleP99.ToString("N1", CultureInfo.InvariantCulture));
        Add($"GET /export/jobs/{{id}} p99 while {Tenants * JobsPerTenant} exports run (10 s), ms", loadP99.ToString("N1", CultureInfo.InvariantCulture));
        Add("p99 under load / idle", (loadP99 / idleP99).ToString("N2", CultureInfo.InvariantCulture));
        foreach (var (http, _) in tenants) http.Dispose();

        Console.WriteLine($"Small jobs benchmark, {Environment.ProcessorCount} cores, Azurite on loopback");
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        foreach (var (measure, value) in _rows) Console.WriteLine($"| {measure} | {value} |");
        return 0;
    }

    /// <summary>Starts every tenant's jobs at once, each polled once a second (as a client watching 50 jobs would, not 50 times faster).</summary>
    private static List<Task<JsonNode>> StartAll(List<(HttpClient Http, string Output)> tenants) =>
        tenants.SelectMany(t => Enumerable.Range(0, JobsPerTenant).Select(_ => ExportBenchmark.ExportAsync(t.Http, t.Output, oneSegment: true, pollMs: 1_000))).ToList();

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private void Add(string measure, string value) => _rows.Add((measure, value));
}
