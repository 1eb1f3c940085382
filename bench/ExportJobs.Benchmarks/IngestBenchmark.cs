using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace ExportJobs.Benchmarks;

/// <summary>
/// What hostile or very large ingestion bodies cost the host: 4 concurrent NDJSON bodies of 256 MB (accepted), 4
/// concurrent gzip bombs of one 300 MiB line, and 4 of 1 GiB of lines (both answered 413), each phase on a fresh host
/// (scripts/bench.sh starts one per phase). Prints the host's peak RSS above its idle RSS, per concurrent ingestion,
/// and its RSS once they are over. Bodies are generated as they are sent, so the benchmark holds none of them.
/// </summary>
public sealed class IngestBenchmark(BenchEnvironment environment)
{
    private const int Concurrent = 4;
    private const long PlainBytes = 256_000_000;

    /// <summary>One phase (<c>plain</c>, <c>line-bomb</c> or <c>lines-bomb</c>) on a host that has done nothing else: its peak is its own.</summary>
    public async Task<int> RunAsync(string phase)
    {
        using var http = await environment.ClientAsync(environment.Api);
        var created = await http.PostAsJsonAsync("datasets", new { name = "ingest", schema = new { name = "_xdm.context.profile" }, profileEnabled = true });
        string dataset = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync())!["id"]!;
        (string Name, HttpStatusCode Expected, Func<int, HttpContent> Body) run = phase switch
        {
            "plain" => ("4 × 256 MB NDJSON (accepted)", HttpStatusCode.Created, i => new GeneratedNdjson(i, PlainBytes)),
            "line-bomb" => Bomb("4 × gzip bomb, one 300 MiB line (413)",
                Gzip(writer => { for (int i = 0; i < 300; i++) writer.Write(Enumerable.Repeat((byte)'a', 1 << 20).ToArray()); })),
            "lines-bomb" => Bomb("4 × gzip bomb, 1 GiB of lines (413)",
                Gzip(writer => { for (long written = 0; written < 1L << 30;) { var line = Line(written); writer.Write(line); written += line.Length; } })),
            _ => throw new ArgumentException($"phase is plain, line-bomb or lines-bomb, not '{phase}'"),
        };

        await Task.Delay(TimeSpan.FromSeconds(3)); // let start-up settle before reading idle RSS
        long idle = environment.HostRssBytes();
        string row = await PhaseAsync(run.Name, idle, run.Expected, run.Body, http, dataset);
        await Task.Delay(TimeSpan.FromSeconds(10));
        if (phase == "plain")
        {
            Console.WriteLine("| ingestion (a fresh host each) | s | host idle RSS, MB | peak RSS above idle, MB | per concurrent ingestion, MB | RSS 10 s after, MB | target |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
        }
        Console.WriteLine($"{row} {environment.HostRssBytes() / 1e6:N0} | ≤ 64 per ingestion |");
        return 0;
    }

    private static (string, HttpStatusCode, Func<int, HttpContent>) Bomb(string name, byte[] body) => (name, HttpStatusCode.RequestEntityTooLarge, _ => GzipContent(body));

    private async Task<string> PhaseAsync(string name, long idle, HttpStatusCode expected, Func<int, HttpContent> body, HttpClient http, string dataset)
    {
        environment.ResetHostPeakRss();
        var clock = Stopwatch.StartNew();
        var statuses = await Task.WhenAll(Enumerable.Range(0, Concurrent).Select(async i =>
        {
            using var response = await http.PostAsync($"datasets/{dataset}/batches", body(i));
            return response.StatusCode;
        }));
        double seconds = clock.Elapsed.TotalSeconds;
        if (statuses.Any(s => s != expected)) throw new InvalidOperationException($"{name}: answered {string.Join(", ", statuses)}, expected {expected}");
        double above = (environment.HostPeakRssBytes() - idle) / 1e6;
        return $"| {name} | {seconds:N1} | {idle / 1e6:N0} | {above:N0} | {above / Concurrent:N0} |";
    }

    private static byte[] Line(long n) => Encoding.UTF8.GetBytes(
        $$$"""{"identityMap":{"ecid":[{"id":"bomb{{{n}}}"}]},"person":{"name":{"firstName":"F{{{n % 1000}}}","lastName":"L{{{n % 977}}}"}},"padding":"{{{new string('p', 300)}}}"}""" + "\n");

    private static byte[] Gzip(Action<Stream> write)
    {
        var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, CompressionLevel.SmallestSize, leaveOpen: true)) write(zip);
        return compressed.ToArray();
    }

    private static ByteArrayContent GzipContent(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    /// <summary>An NDJSON body of about <paramref name="bytes"/> bytes of distinct profiles, written as it is sent (chunked).</summary>
    private sealed class GeneratedNdjson : HttpContent
    {
        private readonly int _body;
        private readonly long _bytes;

        public GeneratedNdjson(int body, long bytes)
        {
            _body = body;
            _bytes = bytes;
            Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var buffer = new MemoryStream();
            long written = 0;
            for (long i = 0; written < _bytes; i++)
            {
                byte[] line = Encoding.UTF8.GetBytes(BenchProfiles.Crm((int)(_body * 10_000_000 + i)) + "\n");
                buffer.Write(line);
                written += line.Length;
                if (buffer.Length < 1 << 20) continue;
                await stream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
                buffer.SetLength(0);
            }
            await stream.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
