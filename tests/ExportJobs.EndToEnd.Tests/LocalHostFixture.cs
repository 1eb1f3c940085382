using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.LocalHost;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>One LocalHost on Azurite and the Durable Task Azure Storage backend, shared by the end-to-end tests.</summary>
public sealed class LocalHostFixture : IAsyncLifetime
{
    public const string Org = "1BD6382559DF0C130A49422D@AdobeOrg";
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);

    private WebApplication? _app;
    private readonly SemaphoreSlim _ingestOnce = new(1, 1);
    private string? _profileDataset;

    public string Prefix { get; } = TestStorage.NewPrefix();
    public Uri BaseAddress { get; private set; } = null!;
    public ProfileGenerator Profiles { get; } = new(5_000);

    public async Task InitializeAsync()
    {
        // Parts of 100 rows: the test data's shards are grouped into few activities (ShardGroupBytes), and each group
        // still writes several parts, as a large export does.
        var settings = TestStorage.Settings(Prefix);
        settings["ExportJobs:PartRows"] = "100";
        // The console's tests sign in as a user of the LocalHost does (its development sign-in).
        settings["LocalHost:DevelopmentTokens"] = "true";
        settings["LocalHost:DevKeyPath"] = Path.Combine(TemporaryFolders.Create("dev-key-"), "dev-signing-key.pem");
        _app = await StartAsync(settings);
        BaseAddress = new Uri($"{_app.Urls.Single()}/{Routes.Prefix}/");
    }

    public async Task DisposeAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>A client of one sandbox of the test organisation.</summary>
    public HttpClient Client(string sandbox = "prod", string org = Org) => ClientOf(BaseAddress, sandbox, org);

    /// <summary>A client of one sandbox of the test organisation on the API at <paramref name="api"/>.</summary>
    public static HttpClient ClientOf(Uri api, string sandbox = "prod", string org = Org)
    {
        var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Add(RequestReading.OrgHeader, org);
        client.DefaultRequestHeaders.Add(RequestReading.SandboxHeader, sandbox);
        client.DefaultRequestHeaders.Add(ApiAccess.ApiKeyHeader, TestAccess.ClientId);
        client.DefaultRequestHeaders.Authorization = new("Bearer", TestAccess.Token([org]));
        return client;
    }

    public static async Task<JsonNode> ReadAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {expected}, got {(int)response.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public static async Task<string> CreateDatasetAsync(HttpClient client, bool profileEnabled)
    {
        var body = await ReadAsync(await client.PostAsJsonAsync("datasets", new { name = "ds", schema = new { name = "_xdm.context.profile" }, profileEnabled }), HttpStatusCode.Created);
        return (string)body["id"]!;
    }

    public static async Task<JsonNode> PostLinesAsync(HttpClient client, string datasetId, IEnumerable<string> lines, bool gzip)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(string.Join("\n", lines) + "\n");
        HttpContent content;
        if (gzip)
        {
            var compressed = new MemoryStream();
            await using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) await zip.WriteAsync(bytes);
            content = new ByteArrayContent(compressed.ToArray());
            content.Headers.ContentEncoding.Add("gzip");
        }
        else content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/x-ndjson");
        return await ReadAsync(await client.PostAsync($"datasets/{datasetId}/batches", content), HttpStatusCode.Created);
    }

    /// <summary>Ingests the generated profiles into the prod sandbox once (batch 1 plain with two bad lines, batch 2 gzip).</summary>
    public async Task<(string DatasetId, JsonNode FirstBatch, JsonNode SecondBatch)> IngestProfilesOnceAsync()
    {
        await _ingestOnce.WaitAsync();
        try
        {
            if (_profileDataset is not null) return (_profileDataset, FirstBatch!, SecondBatch!);
            using var client = Client();
            string dataset = await CreateDatasetAsync(client, profileEnabled: true);
            var first = Profiles.FirstBatchLines().ToList();
            first.Insert(10, "this is not json");
            first.Insert(20, """{"person":{"name":{"firstName":"nobody"}}}""");
            FirstBatch = await PostLinesAsync(client, dataset, first, gzip: false);
            SecondBatch = await PostLinesAsync(client, dataset, Profiles.SecondBatchLines(), gzip: true);
            _profileDataset = dataset;
            return (dataset, FirstBatch, SecondBatch);
        }
        finally
        {
            _ingestOnce.Release();
        }
    }

    private JsonNode? FirstBatch { get; set; }
    private JsonNode? SecondBatch { get; set; }

    public static Task<JsonNode> WaitForJobAsync(HttpClient client, long id, Func<string, bool> done, List<string>? seen = null) =>
        Poll.UntilAsync(async () =>
        {
            var job = await ReadAsync(await client.GetAsync($"export/jobs/{id}"), HttpStatusCode.OK);
            string status = (string)job["status"]!;
            if (seen is not null && (seen.Count == 0 || seen[^1] != status)) seen.Add(status);
            return job;
        }, job => done((string)job["status"]!), Deadline, $"job {id}");

    /// <summary>
    /// A LocalHost started on a free loopback port with these settings, and whatever else <paramref name="configure"/>
    /// adds. A port the system reported free can be taken before the host binds it (by one of the tests' own outgoing
    /// connections, whose ports are of the same range), so a start that finds its port in use is tried again on another.
    /// The port stays in the host's URL, which names its Durable Task worker (<c>DurableSidecar.WorkerId</c>).
    /// </summary>
    /// <param name="ports">The ports tried, one a start (by default, one the system reports free each time).</param>
    /// <param name="whileStarting">Run on each host being started, while its start runs.</param>
    public static async Task<WebApplication> StartAsync(IDictionary<string, string?> settings, Action<WebApplicationBuilder>? configure = null,
        Func<int>? ports = null, Func<WebApplication, Task>? whileStarting = null)
    {
        for (int attempt = 1; ; attempt++)
        {
            var app = LocalHostApp.Build(["--urls", $"http://127.0.0.1:{(ports ?? LoopbackPorts.Free)()}"], b =>
            {
                b.Configuration.AddInMemoryCollection(settings);
                configure?.Invoke(b);
            });
            try
            {
                var starting = app.StartAsync();
                try
                {
                    if (whileStarting is not null) await whileStarting(app);
                }
                finally
                {
                    await starting;
                }
                return app;
            }
            catch (IOException e) when (e.InnerException is AddressInUseException && attempt < 5)
            {
                // What started before the server (the Durable Task worker among it) stops with the host.
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LocalHostCollection : ICollectionFixture<LocalHostFixture>
{
    public const string Name = "LocalHost";
}
