using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;

namespace ExportJobs.Benchmarks;

/// <summary>
/// Two LocalHost processes on one task hub (started by <c>scripts/bench.sh scaleout</c>): one export job runs while both
/// are up, and each host's log says which shards it ran; then host B is stopped and the same export runs on host A
/// alone; the two batches must hold the same files with the same MD5.
/// </summary>
public sealed partial class ScaleOutCheck(BenchEnvironment env)
{
    public async Task<int> RunAsync(int count)
    {
        using var http = await env.ClientAsync(env.Api);
        string output = await ExportBenchmark.PrepareTenantAsync(http, count);

        var shared = await ExportBenchmark.ExportAsync(http, output);
        long id = (long)shared["id"]!;
        var byA = ShardsRun(Environment.GetEnvironmentVariable("BENCH_LOG_A")!, id);
        var byB = ShardsRun(Environment.GetEnvironmentVariable("BENCH_LOG_B")!, id);
        int shards = (int)shared["metrics"]!["progress"]!["shards"]!;

        using (var hostB = Process.GetProcessById(int.Parse(Environment.GetEnvironmentVariable("BENCH_PID_B")!, CultureInfo.InvariantCulture)))
        {
            hostB.Kill();
            await hostB.WaitForExitAsync();
        }
        var alone = await ExportBenchmark.ExportAsync(http, output);
        var sharedFiles = await FilesAsync(http, output, (string)shared["destination"]!["batchId"]!);
        var aloneFiles = await FilesAsync(http, output, (string)alone["destination"]!["batchId"]!);
        bool identical = sharedFiles.SequenceEqual(aloneFiles);

        Console.WriteLine($"Scale-out check, N = {count:N0}: job {id} with two hosts, job {(long)alone["id"]!} with host A alone");
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| shards of the job | {shards} |");
        Console.WriteLine($"| shards run by host A | {byA.Count}: {string.Join(" ", byA)} |");
        Console.WriteLine($"| shards run by host B | {byB.Count}: {string.Join(" ", byB)} |");
        Console.WriteLine($"| every shard run | {byA.Union(byB).Count() == shards} |");
        Console.WriteLine($"| exported profiles (two hosts / one host) | {(long)shared["metrics"]!["totalExportedProfileCounter"]!} / {(long)alone["metrics"]!["totalExportedProfileCounter"]!} |");
        Console.WriteLine($"| part files identical (name, rows, MD5) | {identical} ({sharedFiles.Count} files) |");
        return byA.Count > 0 && byB.Count > 0 && byA.Union(byB).Count() == shards && identical ? 0 : 1;
    }

    [GeneratedRegex(@"Export job (\d+): shards ([\d,]+) exported")]
    private static partial Regex ShardLine();

    private static SortedSet<int> ShardsRun(string log, long jobId)
    {
        var shards = new SortedSet<int>();
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
            if (ShardLine().Match(line) is { Success: true } m && long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) == jobId)
                foreach (string shard in m.Groups[2].Value.Split(','))
                    shards.Add(int.Parse(shard, CultureInfo.InvariantCulture));
        return shards;
    }

    /// <summary>The batch's part files as "name rows md5", from its manifest.</summary>
    private static async Task<List<string>> FilesAsync(HttpClient http, string dataset, string batch)
    {
        var manifest = (await http.GetFromJsonAsync<JsonNode>($"datasets/{dataset}/batches/{batch}/files/manifest.json"))!;
        return manifest["files"]!.AsArray().Select(f => $"{f!["name"]} {f["rows"]} {f["md5"]}").Order(StringComparer.Ordinal).ToList();
    }
}
