namespace ExportJobs.Service.Access;

/// <summary>Who may call the API, and for which organisations and sandboxes. Section <c>ExportJobs:Access</c>.</summary>
public sealed class ApiAccessOptions
{
    public const string Section = "ExportJobs:Access";

    /// <summary>The <c>iss</c> every token must carry.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The <c>aud</c> every token must carry.</summary>
    public string Audience { get; set; } = "";

    /// <summary>The issuer's OpenID Connect metadata (…/.well-known/openid-configuration); its signing keys are trusted.</summary>
    public string? MetadataAddress { get; set; }

    /// <summary>Public keys (PEM, RSA or EC) whose signatures are trusted, beside or instead of the metadata's.</summary>
    public List<string> SigningKeys { get; set; } = [];

    /// <summary>The client ids an <c>x-api-key</c> may name.</summary>
    public List<string> AllowedClientIds { get; set; } = [];

    /// <summary>The claim listing the organisations a token grants (an array, or ids separated by spaces or commas).</summary>
    public string OrgClaim { get; set; } = "orgs";

    /// <summary>The sandboxes of every organisation not listed in <see cref="Sandboxes"/>; empty means just <c>prod</c>.</summary>
    public List<string> DefaultSandboxes { get; set; } = [];

    /// <summary>The sandboxes of named organisations.</summary>
    public Dictionary<string, List<string>> Sandboxes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Tolerated clock difference when checking a token's lifetime.</summary>
    public int ClockSkewSeconds { get; set; } = 60;

    public IReadOnlyCollection<string> SandboxesOf(string orgId) =>
        Sandboxes.TryGetValue(orgId, out var listed) ? listed : DefaultSandboxes.Count > 0 ? DefaultSandboxes : ["prod"];
}

/// <summary>Limits on what a request may send. Section <c>ExportJobs:Limits</c>.</summary>
public sealed class ApiLimitsOptions
{
    public const string Section = "ExportJobs:Limits";

    /// <summary>Largest JSON body (creating a job or a dataset), in bytes.</summary>
    [System.ComponentModel.DataAnnotations.Range(1_024, 64 * 1024 * 1024)]
    public long MaxJsonBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest ingestion body, in bytes, counted both as sent and after gzip is inflated.</summary>
    [System.ComponentModel.DataAnnotations.Range(1_024, 16L * 1024 * 1024 * 1024)]
    public long MaxIngestBodyBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Longest NDJSON line of an ingestion body, in bytes: a longer line is rejected (with its number) without being held.</summary>
    [System.ComponentModel.DataAnnotations.Range(1_024, 16 * 1024 * 1024)]
    public int MaxRecordBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// How many bytes of accepted lines an ingestion holds before it writes them to the profile store as one chunk (one
    /// file per shard): what one ingestion holds in memory, whatever its body, and how many files it writes. 16 MB:
    /// four concurrent 256 MB bodies peaked at 53–54 MB above idle per ingestion (8 MB: 34–41 MB; bash scripts/bench.sh
    /// ingest), and a batch of up to 16 MB is one file per shard: the benchmark's bulk load writes 1,920 files, not 3,200
    /// (a request each, and compaction's input), and its background compaction took 29–38 s instead of 37–46 s
    /// (docs/performance.md, "Chunks of 16 MB").
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(64 * 1024, 256 * 1024 * 1024)]
    public int IngestChunkBytes { get; set; } = 16 * 1024 * 1024;
}
