using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Options;

namespace ExportJobs.Benchmarks;

/// <summary>
/// The stitched data set (issue 21), run by <c>scripts/bench.sh stitched N</c>: N people, each a CRM record keyed by
/// CRMID that also holds an Email, and 0 to 2 web records keyed by a cookie (ECID) that holds the CRMID — 2 to 4
/// identities a person; every 50th person's first cookie is also used by the next person (a shared device). After the
/// background compaction settles: the whole store exported under the built-in <c>none</c> policy, then three times
/// under a <c>pdg</c> policy — the first builds the identity graphs and routes each shard's moved fragments, the second
/// reuses both, the third reuses the graphs but routes again (the routes' marks deleted before it), so the build takes
/// about the difference of the first and the third — with the host's peak RSS in each.
/// </summary>
public sealed class StitchedBenchmark(BenchEnvironment env)
{
    private readonly List<(string Measure, string Value)> _rows = [];

    public async Task<int> RunAsync(int people)
    {
        using var http = await env.ClientAsync(env.Api);
        const string profile = SegmentDefinitionRules.ProfileSchema;
        string crm = await ExportBenchmark.CreateDatasetAsync(http, "crm", profile, BenchProfiles.CrmSchema, true);
        string web = await ExportBenchmark.CreateDatasetAsync(http, "web", profile, BenchProfiles.LoyaltySchema, true);
        string output = await ExportBenchmark.CreateDatasetAsync(http, "export", profile, null, false);

        var bodies = ExportBenchmark.Bodies(people, [(crm, i => [Crm(i)]), (web, i => Web(i, people))]);
        var ingest = Stopwatch.StartNew();
        long records = await ExportBenchmark.IngestAsync(http, bodies);
        ingest.Stop();
        Add("people", people.ToString("N0", CultureInfo.InvariantCulture));
        Add("records ingested (CRM, web)", records.ToString("N0", CultureInfo.InvariantCulture));
        Add("ingest records/s", (records / ingest.Elapsed.TotalSeconds).ToString("N0", CultureInfo.InvariantCulture));
        var compaction = Stopwatch.StartNew();
        await new ExportBenchmark(env).WaitForCompactedShardsAsync();
        Add("background compaction after the last batch, s", compaction.Elapsed.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture));

        var policy = await http.PostAsJsonAsync("config/mergePolicies", new { name = "stitched", identityGraph = new { type = "pdg" }, attributeMerge = new { type = "timestampOrdered" } });
        string pdg = (string)(await policy.Content.ReadFromJsonAsync<JsonNode>())!["id"]!;

        var (none, noneRows, noneRss) = await TimedAsync(http, output, "timestampOrdered-none-mp");
        var (first, stitchedRows, firstRss) = await TimedAsync(http, output, pdg);
        var (second, _, secondRss) = await TimedAsync(http, output, pdg);
        await ForgetRoutesAsync();
        var (third, _, thirdRss) = await TimedAsync(http, output, pdg);
        string S(TimeSpan t) => t.TotalSeconds.ToString("N1", CultureInfo.InvariantCulture);
        Add("none export (whole store): s, rows, host peak RSS MB", $"{S(none)}, {noneRows:N0}, {noneRss}");
        Add("pdg export, first (graph build + route + export): s, rows, host peak RSS MB", $"{S(first)}, {stitchedRows:N0}, {firstRss}");
        Add("pdg export, second (graphs and routes reused): s, host peak RSS MB", $"{S(second)}, {secondRss}");
        Add("pdg export, third (graphs reused, routed again): s, host peak RSS MB", $"{S(third)}, {thirdRss}");
        Add("graph build (first − third pdg export), s", S(first - third));
        string Ratio(TimeSpan t) => (t.TotalSeconds / none.TotalSeconds).ToString("N2", CultureInfo.InvariantCulture) + "×";
        Add("pdg / none export: second (routes reused), third (routed)", $"{Ratio(second)}, {Ratio(third)}");

        Console.WriteLine($"Stitched benchmark, N = {people:N0} people, {Environment.ProcessorCount} cores, Azurite on loopback");
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        foreach (var (measure, value) in _rows) Console.WriteLine($"| {measure} | {value} |");
        return 0;
    }

    /// <summary>Deletes the marks of the routes kept with the graph build, so that the next <c>pdg</c> export routes every shard again.</summary>
    private async Task ForgetRoutesAsync()
    {
        var service = new StorageClients(Options.Create(env.StorageOptions())).Profiles.GetParentBlobServiceClient();
        await foreach (var build in service.GetBlobContainersAsync(prefix: StorageNames.BuildsContainers("", $"{BenchEnvironment.Org}/prod")))
        {
            var container = service.GetBlobContainerClient(build.Name);
            await foreach (var blob in container.GetBlobsAsync(new GetBlobsOptions { Prefix = "routed/" }))
                if (!blob.Name.EndsWith(".parquet", StringComparison.Ordinal)) await container.DeleteBlobAsync(blob.Name);
        }
    }

    private async Task<(TimeSpan Elapsed, long Rows, string PeakRssMb)> TimedAsync(HttpClient http, string output, string policy)
    {
        env.ResetHostPeakRss();
        var watch = Stopwatch.StartNew();
        var job = await ExportBenchmark.ExportAsync(http, output, mergePolicyId: policy);
        watch.Stop();
        return (watch.Elapsed, (long)job["metrics"]!["totalExportedProfileCounter"]!, (env.HostPeakRssBytes() / 1048576.0).ToString("N0", CultureInfo.InvariantCulture));
    }

    private static string Map(params (string Ns, string Id, bool Primary)[] identities)
    {
        var map = new StringBuilder("{");
        foreach (var group in identities.GroupBy(i => i.Ns))
        {
            if (map.Length > 1) map.Append(',');
            map.Append('"').Append(group.Key).Append("\":[").AppendJoin(',', group.Select(i => "{\"id\":\"" + i.Id + "\"" + (i.Primary ? ",\"primary\":true}" : "}"))).Append(']');
        }
        return map.Append('}').ToString();
    }

    /// <summary>Person <paramref name="i"/>'s CRM record: the benchmark's CRM attributes, keyed by CRMID, with an Email.</summary>
    private static string Crm(int i)
    {
        string attributes = BenchProfiles.Crm(i);
        int start = attributes.IndexOf(",\"personalEmail\"", StringComparison.Ordinal);
        return "{\"identityMap\":" + Map(("CRMID", "crm" + i, true), ("Email", "user" + i + "@example.com", false)) + attributes[start..];
    }

    /// <summary>Person <paramref name="i"/>'s web records: 0 to 2 cookies, each linked to the CRMID; a shared device is also linked to the next person.</summary>
    private static IEnumerable<string> Web(int i, int people)
    {
        string attributes = BenchProfiles.Loyalty(i);
        string body = attributes[attributes.IndexOf(",\"loyalty\"", StringComparison.Ordinal)..];
        for (int c = 0; c < i % 3; c++)
            yield return "{\"identityMap\":" + Map(("ECID", $"c{i}-{c}", true), ("CRMID", "crm" + i, false)) + body;
        if (i % 50 == 0 && i % 3 > 0 && i + 1 < people)
            yield return "{\"identityMap\":" + Map(("ECID", $"c{i}-0", true), ("CRMID", "crm" + (i + 1), false)) + body;
    }

    private void Add(string measure, string value)
    {
        _rows.Add((measure, value));
        Console.Error.WriteLine($"{measure}: {value}");
    }
}
