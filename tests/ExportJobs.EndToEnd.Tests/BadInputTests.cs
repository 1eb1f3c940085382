using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;
using Xunit.Abstractions;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>A case of the bad-input corpus (BadInput/corpus.json): a request and the 4xx it must get.</summary>
public sealed record BadRequestCase(
    string Name, string Method, string Path, string? Body, string? BodyKind, Dictionary<string, string?>? Headers, int Expect, string? Field);

[Collection(LocalHostCollection.Name)]
public class BadInputTests(LocalHostFixture host, ITestOutputHelper output)
{
    private static readonly string Long = new('a', 300);

    private static List<BadRequestCase> Corpus() => JsonSerializer.Deserialize<List<BadRequestCase>>(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "BadInput", "corpus.json")),
        new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

    [Fact]
    public async Task Every_bad_request_of_the_corpus_gets_its_4xx_problem_and_changes_nothing()
    {
        var corpus = Corpus();
        Assert.True(corpus.Count >= 60, $"the corpus has {corpus.Count} cases");

        using var client = host.Client();
        string dataset = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        string profiles = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        var batch = await LocalHostFixture.PostLinesAsync(client, profiles, ["""{"identityMap":{"ecid":[{"id":"1"}]}}"""], gzip: false);
        var job = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs",
            new { destination = new { datasetId = dataset }, schema = new { name = "_xdm.context.profile" } }), HttpStatusCode.OK);
        // The job's own completion writes records (its output batch): let it end before counting.
        await LocalHostFixture.WaitForJobAsync(client, (long)job["id"]!, s => s == "SUCCEEDED");
        string Fill(string text) => text.Replace("{dataset}", dataset).Replace("{profiles}", profiles)
            .Replace("{batch}", (string)batch["id"]!).Replace("{job}", ((long)job["id"]!).ToString())
            .Replace("{longer}", Long).Replace("{long}", Long);

        int jobsBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.JobsTable);
        int datasetsBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.DatasetsTable);
        int batchesBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.BatchesTable);
        int definitionsBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.SegmentDefinitionsTable);
        int settingsBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.IdentitySettingsTable);
        int segmentJobsBefore = await TestStorage.CountRowsAsync(host.Prefix, StorageNames.SegmentJobsTable);

        using var plain = new HttpClient { BaseAddress = host.BaseAddress };
        var failures = new List<string>();
        var byStatus = new SortedDictionary<int, int>();
        foreach (var test in corpus)
        {
            using var request = Request(test, Fill);
            using var response = await plain.SendAsync(request);
            int status = (int)response.StatusCode;
            byStatus[status] = byStatus.GetValueOrDefault(status) + 1;
            string text = await response.Content.ReadAsStringAsync();
            string? problem = Check(test, response, text);
            if (problem is not null) failures.Add($"{test.Name}: {problem} — {text[..Math.Min(300, text.Length)]}");
        }

        output.WriteLine($"{corpus.Count} bad requests; answers by status: {string.Join(", ", byStatus.Select(kv => $"{kv.Key}: {kv.Value}"))}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.DoesNotContain(byStatus.Keys, s => s >= 500);
        Assert.Equal(jobsBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.JobsTable));
        Assert.Equal(datasetsBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.DatasetsTable));
        Assert.Equal(batchesBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.BatchesTable));
        Assert.Equal(definitionsBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.SegmentDefinitionsTable));
        Assert.Equal(settingsBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.IdentitySettingsTable));
        Assert.Equal(segmentJobsBefore, await TestStorage.CountRowsAsync(host.Prefix, StorageNames.SegmentJobsTable));
    }

    /// <summary>The case's request: the valid headers of the tenant, less or replaced by those the case names.</summary>
    private HttpRequestMessage Request(BadRequestCase test, Func<string, string> fill)
    {
        var request = new HttpRequestMessage(new HttpMethod(test.Method), fill(test.Path)) { Content = Body(test, fill) };
        using var valid = host.Client();
        var headers = valid.DefaultRequestHeaders.ToDictionary(h => h.Key, h => (string?)string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in test.Headers ?? []) headers[name] = value is null ? null : fill(value);
        foreach (var (name, value) in headers)
        {
            if (value is null) continue;
            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) request.Content!.Headers.ContentType = new(value);
            else if (name.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase)) request.Content!.Headers.ContentEncoding.Add(value);
            else request.Headers.TryAddWithoutValidation(name, value);
        }
        return request;
    }

    private static HttpContent? Body(BadRequestCase test, Func<string, string> fill)
    {
        switch (test.BodyKind?.Split(':'))
        {
            case ["jsonOfSize", var size]:
                return Json("""{"destination":{"datasetId":"x"},"schema":{"name":"s"},"fields":"a""" + new string('b', int.Parse(size)) + "\"}");
            case ["ndjsonOfSize", var size]:
            {
                var line = """{"identityMap":{"ecid":[{"id":"1"}]},"padding":"PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP"}""" + "\n";
                var text = new StringBuilder();
                while (text.Length < int.Parse(size)) text.Append(line);
                return new StringContent(text.ToString(), Encoding.UTF8, "application/x-ndjson");
            }
            case ["gzipZeros", var size]:
                return Gzip(Compress(new byte[int.Parse(size)], CompressionLevel.SmallestSize));
            case ["gzipOneLine", var size]:
            {
                // One line of 'a's, written in pieces: a small body that inflates far past the limit.
                var compressed = new MemoryStream();
                var piece = Enumerable.Repeat((byte)'a', 1 << 20).ToArray();
                using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                    for (long written = 0; written < long.Parse(size); written += piece.Length) zip.Write(piece);
                return Gzip(compressed.ToArray());
            }
            case ["gzipTruncated"]:
            {
                byte[] whole = Compress(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2_000).Select(i => $$$"""{"identityMap":{"ecid":[{"id":"cut{{{i}}}"}]}}""" + "\n"))), CompressionLevel.Fastest);
                return Gzip(whole[..(whole.Length / 2)]);
            }
            case ["gzipTrailingGarbage"]:
                return Gzip([.. Compress(Encoding.UTF8.GetBytes("""{"identityMap":{"ecid":[{"id":"g"}]}}""" + "\n"), CompressionLevel.Fastest), .. "garbage"u8.ToArray()]);
            case ["jsonWithoutType"]:
                return new ByteArrayContent("""{"destination":{"datasetId":"x"},"schema":{"name":"s"}}"""u8.ToArray());
            case ["mergePolicyOrder", var count]:
            {
                string order = string.Join(",", Enumerable.Range(0, int.Parse(count)).Select(i => $"\"ds{i}\""));
                return Json($$$"""{"name":"p","attributeMerge":{"type":"dataSetPrecedence","order":[{{{order}}}]}}""");
            }
        }
        return test.Body is null ? null : Json(fill(test.Body));
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

    private static byte[] Compress(byte[] data, CompressionLevel level)
    {
        var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, level, leaveOpen: true)) zip.Write(data);
        return compressed.ToArray();
    }

    private static ByteArrayContent Gzip(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new("application/x-ndjson");
        content.Headers.ContentEncoding.Add("gzip");
        return content;
    }

    private static string? Check(BadRequestCase test, HttpResponseMessage response, string text)
    {
        if ((int)response.StatusCode != test.Expect) return $"expected {test.Expect}, got {(int)response.StatusCode}";
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json") return "not a problem+json answer";
        var problem = JsonNode.Parse(text)!;
        if ((int)problem["status"]! != test.Expect || string.IsNullOrWhiteSpace((string?)problem["detail"]) || string.IsNullOrWhiteSpace((string?)problem["title"]))
            return "problem without status, title or detail";
        if (test.Field is not null && (string?)problem["field"] != test.Field) return $"expected field {test.Field}, got {(string?)problem["field"]}";
        return null;
    }
}
