using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.Extensions.Options;

namespace ExportJobs.Benchmarks;

/// <summary>What <c>scripts/bench.sh</c> started, passed in environment variables: the API, the host process, Azurite and its access log.</summary>
public sealed class BenchEnvironment
{
    /// <summary>The organisation every benchmark works in (its sandbox is <c>prod</c> unless said).</summary>
    public const string Org = "1BD6382559DF0C130A49422D@AdobeOrg";

    public string Api { get; } = Required("BENCH_API");
    public string? ApiB { get; } = Environment.GetEnvironmentVariable("BENCH_API_B");
    public int HostPid { get; } = int.Parse(Required("BENCH_HOST_PID"), CultureInfo.InvariantCulture);
    private int AzuritePid { get; } = int.Parse(Required("BENCH_AZURITE_PID"), CultureInfo.InvariantCulture);
    private string Storage { get; } = Required("BENCH_STORAGE");
    private string AzuriteLog { get; } = Required("BENCH_AZURITE_LOG");
    private string Autocannon { get; } = Required("BENCH_AUTOCANNON");
    /// <summary>A folder of the run's own, for the peer's NDJSON and Parquet files.</summary>
    public string Work { get; } = Required("BENCH_WORK");
    private string PeerScript { get; } = Required("BENCH_PEER");
    public int ShardCount { get; } = int.Parse(Environment.GetEnvironmentVariable("BENCH_SHARDS") ?? "16", CultureInfo.InvariantCulture);

    private static string Required(string name) =>
        Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set: run scripts/bench.sh.");

    /// <summary>
    /// The service's storage options, with the settings the hosts are given from the environment (<c>ExportJobs__LocalCacheBytes</c>,
    /// <c>ExportJobs__PartRows</c>, <c>ExportJobs__PartBytes</c>) as they are given them.
    /// </summary>
    public ExportStorageOptions StorageOptions()
    {
        var defaults = new ExportStorageOptions();
        return new()
        {
            StorageConnection = Storage,
            ShardCount = ShardCount,
            LocalCacheBytes = Setting(nameof(ExportStorageOptions.LocalCacheBytes), defaults.LocalCacheBytes),
            PartRows = (int)Setting(nameof(ExportStorageOptions.PartRows), defaults.PartRows),
            PartBytes = Setting(nameof(ExportStorageOptions.PartBytes), defaults.PartBytes),
        };
    }

    private static long Setting(string name, long fallback) =>
        Environment.GetEnvironmentVariable($"ExportJobs__{name}") is { } value ? long.Parse(value, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The benchmark's own copies of fragment files (the floors read as a host does), one for the process.</summary>
    public FragmentFileCache Cache => _cache ??= NewCache();
    private FragmentFileCache? _cache;

    private FragmentFileCache NewCache()
    {
        var cache = new FragmentFileCache(Options.Create(StorageOptions()));
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cache.Dispose();
        return cache;
    }

    /// <summary>An API client of <paramref name="sandbox"/> with a development token of the LocalHost.</summary>
    public async Task<HttpClient> ClientAsync(string api, string sandbox = "prod")
    {
        var http = new HttpClient { BaseAddress = new Uri(api.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(10) };
        var root = new Uri(new Uri(api), "/");
        var token = await new HttpClient().PostAsync(new Uri(root, $"dev/token?org={Org}&minutes=600"), null);
        var json = JsonNode.Parse(await token.Content.ReadAsStringAsync())!;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)json["access_token"]!);
        http.DefaultRequestHeaders.Add("x-api-key", "local-client");
        http.DefaultRequestHeaders.Add("x-gw-ims-org-id", Org);
        http.DefaultRequestHeaders.Add("x-sandbox-name", sandbox);
        return http;
    }

    /// <summary>The host's peak resident set (VmHWM) since it started or since <see cref="ResetHostPeakRss"/>.</summary>
    public long HostPeakRssBytes() => ProcStatus("VmHWM:");

    /// <summary>The host's resident set now (VmRSS).</summary>
    public long HostRssBytes() => ProcStatus("VmRSS:");

    /// <summary>Resets the host's VmHWM to its current RSS (writes 5 to /proc/{pid}/clear_refs).</summary>
    public void ResetHostPeakRss() => File.WriteAllText($"/proc/{HostPid}/clear_refs", "5");

    private long ProcStatus(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{HostPid}/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>CPU seconds (user and system) the host and Azurite have used so far.</summary>
    public (double Host, double Azurite) CpuSeconds() => (ProcCpuSeconds(HostPid), ProcCpuSeconds(AzuritePid));

    private static double ProcCpuSeconds(int pid)
    {
        // /proc/{pid}/stat: utime and stime are the 14th and 15th fields, in clock ticks (100 a second on Linux).
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>
    /// Requests Azurite has served so far, by service, counted in its access log (a line a request, as
    /// <c>scripts/lib.sh</c> starts it with <c>AZURITE_ACCESS_LOG</c>). The services share the log, and its lines name
    /// no port, so each request is told by its path (<see cref="ServiceOf"/>).
    /// </summary>
    public (long Blob, long Queue, long Table) AzuriteRequests()
    {
        long blob = 0, queue = 0, table = 0;
        using var reader = new StreamReader(new FileStream(AzuriteLog, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        while (reader.ReadLine() is { } line)
        {
            // 127.0.0.1 - - [04/Dec/2026:11:06:01 +0000] "GET /devstoreaccount1/q1/messages?numofmessages=32 HTTP/1.1" 200 -
            int open = line.IndexOf("] \"", StringComparison.Ordinal), close = line.LastIndexOf(" HTTP/", StringComparison.Ordinal);
            if (open < 0 || close < open) continue;
            var request = line.AsSpan(open + 3, close - open - 3);
            int space = request.IndexOf(' ');
            if (space < 0) continue;
            switch (ServiceOf(request[..space], request[(space + 1)..]))
            {
                case 'B': blob++; break;
                case 'Q': queue++; break;
                default: table++; break;
            }
        }
        return (blob, queue, table);
    }

    /// <summary>
    /// The service a request of the emulator's account went to, by its path (B, Q or T): a table's requests name
    /// <c>Tables</c>, <c>$batch</c> or an entity set (<c>name(…)</c>), or insert with a POST to the table's name; a
    /// queue's messages are under <c>name/messages</c>, and a queue itself is a name alone; a container's requests
    /// carry <c>restype=container</c>, and a blob's path has the container's name and the blob's.
    /// </summary>
    private static char ServiceOf(ReadOnlySpan<char> method, ReadOnlySpan<char> url)
    {
        int query = url.IndexOf('?');
        var path = (query < 0 ? url : url[..query]).TrimStart('/');
        var parameters = query < 0 ? [] : url[(query + 1)..];
        int account = path.IndexOf('/');
        var names = account < 0 ? [] : path[(account + 1)..].TrimEnd('/');
        int slash = names.IndexOf('/');
        var first = slash < 0 ? names : names[..slash];
        if (first.StartsWith("Tables") || first.SequenceEqual("$batch") || first.Contains('(')) return 'T';
        if (slash >= 0)
        {
            var rest = names[(slash + 1)..];
            return rest.SequenceEqual("messages") || rest.StartsWith("messages/") ? 'Q' : 'B';
        }
        if (first.IsEmpty || parameters.Contains("restype=container", StringComparison.Ordinal)) return 'B';
        return method.SequenceEqual("POST") ? 'T' : 'Q';
    }

    /// <summary>p99 latency (ms) of GET <paramref name="url"/> under 32 connections for 10 seconds, measured by autocannon.</summary>
    public async Task<double> AutocannonP99Async(string url, HttpRequestHeaders headers)
    {
        var start = new ProcessStartInfo(Autocannon) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-c", "32", "-d", "10", "-j" }) start.ArgumentList.Add(arg);
        foreach (var header in headers)
        {
            start.ArgumentList.Add("-H");
            start.ArgumentList.Add($"{header.Key}={string.Join(",", header.Value)}");
        }
        start.ArgumentList.Add(url);
        using var process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        var result = JsonNode.Parse(output)!;
        if ((long)result["non2xx"]! > 0 || (long)result["errors"]! > 0) throw new InvalidOperationException($"autocannon saw failures: {output}");
        return (double)result["latency"]!["p99"]!;
    }

    /// <summary>
    /// Runs DuckDB (scripts/duckdb-peer.mjs) on the NDJSON files in <paramref name="dir"/>: the same exports as the
    /// benchmark's jobs, from the raw files and from loaded tables; returns its JSON answer.
    /// </summary>
    public async Task<JsonNode> DuckDbPeerAsync(string dir)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(PeerScript);
        start.ArgumentList.Add(dir);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"the DuckDB peer failed: {await error}");
        return JsonNode.Parse(output)!;
    }
}
