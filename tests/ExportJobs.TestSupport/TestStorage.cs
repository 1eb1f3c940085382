using Azure.Storage.Blobs;
using ExportJobs.Service.Storage;

namespace ExportJobs.TestSupport;

/// <summary>
/// The Azurite the test command started (scripts/test.sh exports its connection string). Every test run gets its own
/// name prefix, so tables, containers and task hubs never collide.
/// </summary>
public static class TestStorage
{
    public const string Variable = "EXPORTJOBS_TEST_STORAGE";

    public static string ConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{Variable} is not set: run the tests with scripts/test.sh, which starts Azurite and sets it.");

    public static string NewPrefix() => "t" + Guid.NewGuid().ToString("N")[..10];

    public static ExportStorageOptions Options(string prefix, int shardCount = 8) => new()
    {
        StorageConnection = ConnectionString,
        NamePrefix = prefix,
        ShardCount = shardCount,
        MaxParallelShards = 4,
        ShardAttempts = 1,
    };

    /// <summary>Settings for a host built from configuration (the LocalHost), with a private prefix and task hub.</summary>
    public static Dictionary<string, string?> Settings(string prefix, int shardCount = 8) => new(TestAccess.Settings())
    {
        ["AzureWebJobsStorage"] = ConnectionString,
        ["ExportJobs:StorageConnection"] = ConnectionString,
        ["ExportJobs:NamePrefix"] = prefix,
        ["ExportJobs:ShardCount"] = shardCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["ExportJobs:MaxParallelShards"] = "4",
        ["ExportJobs:ShardAttempts"] = "2",
        ["DurableTask:HubName"] = "hub" + prefix,
        ["DurableTask:MaxQueuePollingIntervalSeconds"] = "1",
        ["ExportJobs:Callbacks:AllowLoopback"] = "true",
        ["ExportJobs:Callbacks:MaxAttempts"] = "4",
        ["LocalHost:ConsoleTelemetry"] = "false",
        // The LocalHost's appsettings.json warms ingestion up at start, seconds a host the tests start need not spend.
        ["ExportJobs:WarmUpSeconds"] = "0",
    };

    public static BlobContainerClient DatasetFiles(string prefix) =>
        new BlobServiceClient(ConnectionString).GetBlobContainerClient(StorageNames.Container(prefix, StorageNames.DatasetsContainer));

    /// <summary>How many records a table of this run holds, across tenants.</summary>
    public static async Task<int> CountRowsAsync(string prefix, string table)
    {
        int count = 0;
        var client = new Azure.Data.Tables.TableServiceClient(ConnectionString).GetTableClient(StorageNames.Table(prefix, table));
        await foreach (var _ in client.QueryAsync<Azure.Data.Tables.TableEntity>(select: ["PartitionKey"])) count++;
        return count;
    }

    public static async Task<List<string>> ListBlobsAsync(string prefix, string folder)
    {
        var names = new List<string>();
        await foreach (var blob in DatasetFiles(prefix).GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = folder })) names.Add(blob.Name);
        return names;
    }
}
