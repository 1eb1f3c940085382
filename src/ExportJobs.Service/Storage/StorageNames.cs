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
}
