using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.TestSupport;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Moq;

namespace ExportJobs.Service.Tests;

/// <summary>Ingestion as a stream: per-line rejection, bounded lines, chunked writes, and nothing kept from a broken body.</summary>
public sealed class IngestionTests
{
    private const int MaxRecordBytes = 2_048, ChunkBytes = 64 * 1024;

    private static Task<ServiceHarness> HarnessAsync() => ServiceHarness.StartAsync(s => s.Configure<ApiLimitsOptions>(o =>
    {
        o.MaxRecordBytes = MaxRecordBytes;
        o.IngestChunkBytes = ChunkBytes;
    }));

    private static byte[] Line(string id, string extra = "") => Encoding.UTF8.GetBytes($$"""{"identityMap":{"ecid":[{"id":"{{id}}"}]}{{extra}}}""" + "\n");

    private static async Task<(int Status, JsonNode? Body)> PostAsync(ServiceHarness harness, string dataset, byte[] body, bool gzip = false)
    {
        var request = harness.Call.Request();
        request.ContentType = "application/x-ndjson";
        if (gzip) request.Headers.ContentEncoding = "gzip";
        request.Body = new MemoryStream(body);
        var result = await harness.Get<DatasetsHandler>().IngestAsync(request, dataset, new Mock<DurableTaskClient>("ingest").Object, default);
        return await HandlerCall.ReadAsync(result, request.HttpContext);
    }

    private static async Task<Dictionary<string, List<string>>> ReadStoreAsync(ServiceHarness harness)
    {
        var store = harness.Get<ProfileStore>();
        var read = new Dictionary<string, List<string>>();
        foreach (int shard in await store.ListShardsAsync(FragmentKind.Profile, harness.Tenant, default))
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, shard, default))
                read[identity.Id] = fragments.Select(f => f.Record.TryGetProperty("v", out var v) ? v.GetRawText() : "-").ToList();
        return read;
    }

    private static async Task<List<string>> FragmentFilesAsync(ServiceHarness harness)
    {
        var names = new List<string>();
        await foreach (var blob in harness.Get<StorageClients>().Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = harness.Tenant.BlobPrefix + "/" }))
            names.Add(blob.Name);
        return names;
    }

    [Fact]
    public async Task With_typed_leaves_the_datasets_schema_declares_the_leaves_of_the_files_its_batches_are_written_to()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.TypedLeaves) = (1, true)));
        var (status, created) = await harness.Call.SendAsync(r => harness.Get<DatasetsHandler>().CreateAsync(r, default), """
            {"name":"typed","profileEnabled":true,"schema":{"name":"_xdm.context.profile","definition":{"type":"object","properties":{
              "loyalty":{"type":"object","properties":{"points":{"type":"number"},"tier":{"type":"string"}}}}}}}
            """);
        Assert.Equal(201, status);
        // Integer points and no tier: inference alone would make an integer column and no tier.
        var (ingested, _) = await PostAsync(harness, (string)created!["id"]!, [.. Line("a", ""","loyalty":{"points":1}"""), .. Line("b", ""","loyalty":{"points":2}""")]);
        Assert.Equal(201, ingested);

        var container = harness.Get<StorageClients>().Profiles;
        var file = Assert.Single(await FragmentFilesAsync(harness), name => name.EndsWith(".parquet", StringComparison.Ordinal));
        using var content = new MemoryStream((await container.GetBlobClient(file).DownloadContentAsync()).Value.Content.ToArray());
        await using var reader = await Parquet.ParquetReader.CreateAsync(content);
        var members = System.Text.Json.JsonSerializer.Deserialize<List<string>>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
        var loyalty = FragmentColumns.ShapesOf(reader.CustomMetadata[FragmentColumns.LeavesKey], members.Count)[members.IndexOf("loyalty")]!;
        Assert.Equal([("points", LeafKind.Double), ("tier", LeafKind.String)], loyalty.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
    }

    [Fact]
    public async Task Each_bad_line_is_rejected_with_its_number_and_the_good_lines_are_kept()
    {
        await using var harness = await HarnessAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: true);
        // x\xFF and x\xFE: ids that a decoder would both turn into "x\uFFFD", one identity.
        static byte[] InvalidId(byte bad) => [.. "{\"identityMap\":{\"ecid\":[{\"id\":\"x"u8, bad, .. "\"}]}}\n"u8];
        byte[] body =
        [
            .. Line("good1"),
            .. Line("dup", ""","identityMap":{"ecid":[{"id":"other"}]}"""),
            .. Line("a\\ud800"),
            .. InvalidId(0xFF),
            .. InvalidId(0xFE),
            .. Line("long", $$""","pad":"{{new string('p', MaxRecordBytes)}}" """),
            .. Line("good2"),
        ];

        var (status, batch) = await PostAsync(harness, dataset, body);

        Assert.Equal(201, status);
        Assert.True(2 == (long)batch!["recordsAccepted"]!, batch.ToJsonString());
        Assert.Equal(5, (long)batch["recordsRejected"]!);
        var errors = batch["errors"]!.AsArray().Select(e => ((long)e!["line"]!, (string)e["reason"]!)).ToList();
        Assert.Equal([2, 3, 4, 5, 6], errors.Select(e => e.Item1));
        Assert.Contains("Duplicate property", errors[0].Item2);
        Assert.Contains("surrogate", errors[1].Item2);
        Assert.Equal("not valid UTF-8.", errors[2].Item2);
        Assert.Equal("not valid UTF-8.", errors[3].Item2);
        Assert.Contains($"longer than {MaxRecordBytes} bytes", errors[4].Item2);
        Assert.Equal(["good1", "good2"], (await ReadStoreAsync(harness)).Keys.Order());
    }

    [Fact]
    public async Task Reasons_that_quote_long_names_are_cut_and_listed_within_what_the_batch_record_holds()
    {
        await using var harness = await HarnessAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: true);
        // 100 lines whose reasons each quote a segment id of 1,800 characters: 180,000 characters, where a batch record holds 32,768.
        var body = new List<byte>(Line("good1"));
        for (int i = 0; i < 100; i++)
            body.AddRange(Line($"bad{i}", ",\"segmentMembership\":{\"ups\":{\"" + new string('s', 1_800) + i + "\":{\"status\":\"gone\"}}}"));
        body.AddRange(Line("good2"));

        var (status, batch) = await PostAsync(harness, dataset, [.. body]);

        Assert.True(201 == status, batch?.ToJsonString());
        Assert.Equal(2, (long)batch!["recordsAccepted"]!);
        Assert.Equal(100, (long)batch["recordsRejected"]!);
        var reasons = batch["errors"]!.AsArray().Select(e => (string)e!["reason"]!).ToList();
        Assert.InRange(reasons.Count, 1, 99);
        Assert.All(reasons, r => Assert.True(r.Length == BatchIngestor.MaxReasonChars + 1 && r.StartsWith("segmentMembership.ups.sss") && r.EndsWith('…'), r));
        Assert.InRange(reasons.Sum(r => r.Length), BatchIngestor.MaxListedChars, BatchIngestor.MaxListedChars + BatchIngestor.MaxReasonChars + 1);
        Assert.Equal(["good1", "good2"], (await ReadStoreAsync(harness)).Keys.Order());
    }

    [Fact]
    public async Task A_body_larger_than_a_chunk_is_written_in_chunks_that_read_back_in_the_order_they_came()
    {
        await using var harness = await HarnessAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: true);
        // 3,000 lines of ~100 bytes: several chunks of 64 KB. Identity "same" comes once per 500 lines, "v" counting up.
        var body = new MemoryStream();
        for (int i = 0; i < 3_000; i++)
            body.Write(i % 500 == 0 ? Line("same", $$""","v":{{i}}""") : Line($"id{i}", ""","v":0"""));

        var (status, batch) = await PostAsync(harness, dataset, body.ToArray());

        Assert.Equal(201, status);
        Assert.Equal(3_000, (long)batch!["recordsAccepted"]!);
        var files = await FragmentFilesAsync(harness);
        Assert.Contains(files, f => f.EndsWith($"-{(string)batch["id"]!}~0002.parquet", StringComparison.Ordinal));
        var read = await ReadStoreAsync(harness);
        Assert.Equal(2_995, read.Count);
        Assert.Equal(["0", "500", "1000", "1500", "2000", "2500"], read["same"]);
    }

    [Theory]
    [InlineData("cut")]
    [InlineData("garbage")]
    [InlineData("over")]
    public async Task A_broken_or_oversized_body_keeps_nothing_even_after_chunks_were_written(string fault)
    {
        await using var harness = await HarnessAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: true);
        var text = new MemoryStream();
        for (int i = 0; i < 4_000; i++) text.Write(Line($"id{i}", $$""","pad":"{{Guid.NewGuid()}}" """));
        var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(text.ToArray());
        byte[] whole = compressed.ToArray();
        byte[] body = fault switch
        {
            "cut" => whole[..(whole.Length * 3 / 4)],
            "garbage" => [.. whole, 0x1F, 0x8B],
            _ => whole,
        };
        if (fault == "over") harness.Get<Microsoft.Extensions.Options.IOptions<ApiLimitsOptions>>().Value.MaxIngestBodyBytes = text.Length - 1;

        var (status, problem) = await PostAsync(harness, dataset, body, gzip: true);

        Assert.Equal(fault == "over" ? 413 : 400, status);
        Assert.Equal(fault == "over" ? "payload-too-large" : "validation", ((string)problem!["type"]!).Split('/')[^1]);
        Assert.Empty(await FragmentFilesAsync(harness));
        Assert.Equal(0, await TestStorage.CountRowsAsync(harness.Prefix, StorageNames.BatchesTable));
    }
}
