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
    public static string WorkContainer(string prefix, string kind, string identity) =>
        Container(prefix, kind + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)).AsSpan(0, 16)));
}
