using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json.Nodes;
using Azure;
using Azure.Data.Tables;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Datasets;

/// <summary>
/// Runs ingestion's own work on generated records in memory when the host starts, before it takes requests: NDJSON
/// lines read and checked (against a schema, without one, as events), each shard's records split into members and
/// encoded as a chunk's fragment files; and, with <c>clients</c>, the requests ingestion makes of the storage account
/// and the task hub (<see cref="ClientRoundAsync"/>), each one refused or answered with nothing. Rounds of it run until
/// one compiles few methods more, or for <see cref="ExportStorageOptions.WarmUpSeconds"/> at most. A fresh host
/// otherwise runs its first ingestion on code not yet optimised, and compiles as it goes (docs/performance.md, "A host
/// warmed up at start", "Compilations traced"). Nothing is stored.
/// </summary>
public sealed class IngestionWarmUp(IOptions<ExportStorageOptions> options, IOptions<ApiLimitsOptions> limits, ILogger<IngestionWarmUp> log,
    StorageClients? clients = null, DurableTaskClient? taskHub = null) : IHostedService
{
    /// <summary>Lines of each dataset a round reads: enough for every shard's file to have rows.</summary>
    internal const int Lines = 2_000;

    /// <summary>The rounds run at least, and the methods a round may compile and still count as settled.</summary>
    private const int MinRounds = 4, SettledMethods = 25;

    /// <summary>How many times a round makes each of its requests (<see cref="ClientRoundAsync"/>).</summary>
    internal const int ClientCalls = 8;

    /// <summary>The key of every record, blob and instance the client requests name: no tenant's, as no org id holds a "~".</summary>
    internal const string WarmUpKey = "~warm-up";

    /// <summary>A version no blob or entity has, so that a write made on that condition is refused.</summary>
    private static readonly ETag NoVersion = new("W/\"datetime'2000-01-01T00%3A00%3A00.0000000Z'\"");

    /// <summary>The datasets' readers (each with its schema parsed) and the lines, made by the first round: a host that does not warm up makes neither.</summary>
    private (DatasetRecordReader Reader, string Dataset)[]? _readers;
    private byte[]? _body;

    private volatile bool _done;

    /// <summary>Whether the warm-up is over (or off): a host takes requests only once it is.</summary>
    public bool Done => _done;

    public int Rounds { get; private set; }

    /// <summary>Runs the warm-up; one that fails is logged and the host starts all the same, as its requests do not depend on it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (options.Value.WarmUpSeconds > 0) await WarmUpAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "Ingestion's warm-up failed after {Rounds} rounds; the host starts without it", Rounds);
        }
        _done = true;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task WarmUpAsync(CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long compiledAtStart = JitInfo.GetCompiledMethodCount();
        long compiled;
        do
        {
            long before = JitInfo.GetCompiledMethodCount();
            await RoundAsync(ct);
            await ClientRoundAsync(ct);
            Rounds++;
            compiled = JitInfo.GetCompiledMethodCount() - before;
        }
        while ((Rounds < MinRounds || compiled > SettledMethods) && clock.Elapsed.TotalSeconds < options.Value.WarmUpSeconds);
        log.LogInformation("Ingestion warmed up in {Seconds:F1} s: {Rounds} rounds, {Methods} methods compiled ({Last} in the last round)",
            clock.Elapsed.TotalSeconds, Rounds, JitInfo.GetCompiledMethodCount() - compiledAtStart, compiled);
    }

    /// <summary>One round: each dataset's lines read and checked, and the records it accepted encoded as one chunk; returns, by dataset, those records and the chunk's sections.</summary>
    internal async Task<List<(string Dataset, int Accepted, int Sections)>> RoundAsync(CancellationToken ct)
    {
        _readers ??= [.. Datasets().Select(dataset => (new DatasetRecordReader(dataset), dataset.Id))];
        _body ??= Body();
        var done = new List<(string Dataset, int Accepted, int Sections)>();
        foreach (var (reader, dataset) in _readers)
        {
            var accepted = new List<(Identity Identity, ReadOnlyMemory<byte> Json)>();
            using (var lines = new NdjsonLines(new MemoryStream(_body, writable: false), limits.Value.MaxRecordBytes, null))
            {
                while (await lines.ReadAsync(ct))
                    if (reader.TryRead(lines.Line, out var identity, out _)) accepted.Add((identity, lines.Line.ToArray()));
            }
            using var chunk = PooledStreams.Get();
            var sections = await ProfileStore.EncodeSectionsAsync(chunk, ProfileStore.ByShard(accepted, 0, options.Value.ShardCount), 0, dataset, "warmup",
                options.Value.TypedLeaves, null, ct);
            done.Add((dataset, accepted.Count, sections.Count));
        }
        return done;
    }

    /// <summary>
    /// The requests an ingestion makes, through the same clients, made so that they change nothing: a chunk's upload and
    /// a record's update on a version nothing has (refused), a listing and a read of what does not exist, and the
    /// task hub asked for an instance that does not exist (as each batch asks for its tenant's compaction). They compile
    /// the code that runs only with storage or a task hub, which the in-memory rounds cannot reach. Returns the requests made.
    /// </summary>
    internal async Task<int> ClientRoundAsync(CancellationToken ct)
    {
        if (clients is null) return 0;
        int requests = 0;
        var blob = clients.Profiles.GetBlobClient(WarmUpKey + "/" + WarmUpKey);
        for (int i = 0; i < ClientCalls; i++)
        {
            await RefusedAsync(() => blob.UploadAsync(new MemoryStream(_body ??= Body(), 0, 1024, writable: false),
                new BlobUploadOptions { Metadata = new Dictionary<string, string> { ["warmup"] = "1" }, Conditions = new() { IfMatch = NoVersion } }, ct));
            await foreach (var _ in clients.Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = WarmUpKey + "/", Traits = BlobTraits.Metadata }, ct)) { }
            await RefusedAsync(() => clients.Batches.UpdateEntityAsync(new TableEntity(WarmUpKey, WarmUpKey), NoVersion, TableUpdateMode.Replace, ct));
            await clients.Datasets.GetEntityIfExistsAsync<TableEntity>(WarmUpKey, WarmUpKey, cancellationToken: ct);
            requests += 4;
            if (taskHub is null) continue;
            await taskHub.GetInstanceAsync(WarmUpKey, getInputsAndOutputs: true, ct);
            requests++;
        }
        return requests;
    }

    private static async Task RefusedAsync(Func<Task> write)
    {
        try
        {
            await write();
        }
        catch (RequestFailedException e) when (e.Status is 404 or 412)
        {
            return;
        }
        throw new InvalidOperationException("A warm-up write on a version nothing has was not refused.");
    }

    /// <summary>A dataset with a schema, one without, and one of events: each reads the same lines its own way.</summary>
    private static Dataset[] Datasets() =>
    [
        NewDataset("warm-schema", "warm", Schema),
        NewDataset("warm-plain", "warm", null),
        NewDataset("warm-events", Dataset.EventSchema, null),
    ];

    private static Dataset NewDataset(string id, string schema, string? definition) => new()
    {
        Id = id,
        Name = id,
        Schema = new DatasetSchemaRef { Name = schema, Definition = definition is null ? null : JsonNode.Parse(definition)!.AsObject() },
        ProfileEnabled = true,
        ImsOrgId = "warmup",
        SandboxName = "warmup",
    };

    private const string Schema = """
        {"type":"object","properties":{
          "person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"},"lastName":{"type":"string"}}},"birthYear":{"type":"integer"}}},
          "contact":{"type":"object","properties":{"email":{"type":"string"},"optIn":{"type":"boolean"},"score":{"type":"number"}}},
          "tags":{"type":"array","items":{"type":"string"}},
          "orders":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},"total":{"type":"number"}}}},
          "_id":{"type":"string"},"timestamp":{"type":"string","format":"date-time"},"eventType":{"type":"string"}}}
        """;

    /// <summary>Generated records with every kind of value a record holds: nested objects, arrays, strings, numbers, booleans, identities, memberships.</summary>
    private static byte[] Body()
    {
        var text = new StringBuilder();
        var random = new Random(7);
        for (int i = 0; i < Lines; i++)
        {
            string id = "warm" + i.ToString(CultureInfo.InvariantCulture);
            text.Append(CultureInfo.InvariantCulture,
                $$"""{"identityMap":{"email":[{"id":"{{id}}@example.com","primary":true}],"crm":[{"id":"c{{i}}"}]},"_id":"e{{i}}","timestamp":"2026-01-0{{1 + i % 9}}T10:00:00Z","eventType":"view",""");
            text.Append(CultureInfo.InvariantCulture,
                $$"""
                "person":{"name":{"firstName":"F{{random.Next(100)}}","lastName":"L{{random.Next(10_000)}}"},"birthYear":{{1950 + random.Next(60)}}},
                """);
            text.Append(CultureInfo.InvariantCulture,
                $$"""
                "contact":{"email":"{{id}}@example.com","optIn":{{(i % 2 == 0 ? "true" : "false")}},"score":{{random.NextDouble() * 100:F3}}},"tags":["a{{i % 7}}","b"],
                """);
            text.Append(CultureInfo.InvariantCulture,
                $$"""
                "orders":[{"id":"o{{i}}","total":{{random.Next(1, 500)}}.5}],"segmentMembership":{"ups":{"w{{i % 3}}":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"
                """);
            text.Append("}}}}\n");
        }
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
