using System.Security.Cryptography;
using System.Text;

namespace ExportJobs.Service.Storage;

/// <summary>The one place where table and container names are decided.</summary>
public static class StorageNames
{
    public const string JobsTable = "exportjobs";
    public const string SequencesTable = "idsequences";
    public const string DatasetsTable = "datasets";
    public const string BatchesTable = "datasetbatches";
    public const string MergePoliciesTable = "mergepolicies";
    public const string SchedulesTable = "schedules";
    public const string IdempotencyTable = "idempotencykeys";
    public const string SegmentDefinitionsTable = "segmentdefinitions";
    public const string IdentitySettingsTable = "identitysettings";
    public const string SegmentJobsTable = "segmentjobs";
    public const string ProfilesContainer = "profiles";
    public const string EventsContainer = "events";
    public const string DatasetsContainer = "datasets";

    public static string Table(string prefix, string name) => prefix + name;
    public static string Container(string prefix, string name) => prefix.Length == 0 ? name : $"{prefix}-{name}";

    /// <summary>
    /// The container of one piece of work's files (a graph build's run, a <c>pdg</c> job's moved fragments), deleted in
    /// one request when the work ends: <paramref name="kind"/> and 128 bits of SHA-256 over <paramref name="identity"/>,
    /// the text that names the work (tenant and ids), in the characters a container name allows.
    /// </summary>
    public static string WorkContainer(string prefix, string kind, string identity) => Container(prefix, kind + Hash(identity, 16));

    /// <summary>
    /// The container of a tenant's graph build: <see cref="BuildsContainers"/> of the tenant, then 96 bits of SHA-256
    /// over the build's key (at most 62 characters with the longest prefix).
    /// </summary>
    public static string BuildContainer(string prefix, string tenant, string key) => BuildsContainers(prefix, tenant) + Hash(key, 12);

    /// <summary>How the names of a tenant's graph-build containers begin: <c>graph</c> and 48 bits of SHA-256 over the tenant.</summary>
    public static string BuildsContainers(string prefix, string tenant) => Container(prefix, "graph" + Hash(tenant, 6));

    private static string Hash(string text, int bytes) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, bytes));
}
