using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Storage;

/// <summary>The Table and Blob clients of the service, created once.</summary>
public sealed class StorageClients
{
    /// <param name="blobPolicies">Pipeline policies the blob clients run on each request: none in the service; tests count requests with them.</param>
    public StorageClients(IOptions<ExportStorageOptions> options, IEnumerable<HttpPipelinePolicy>? blobPolicies = null)
    {
        var o = options.Value;
        var blobOptions = new BlobClientOptions();
        foreach (var policy in blobPolicies ?? []) blobOptions.AddPolicy(policy, HttpPipelinePosition.PerCall);
        // MD5 rather than the default CRC64: Azurite rejects CRC64, and MD5 was the faster of the two there. The profile
        // store's range reads check their MD5 themselves (BlobRangeStream).
        blobOptions.TransferValidation.Upload.ChecksumAlgorithm = StorageChecksumAlgorithm.MD5;
        blobOptions.TransferValidation.Download.ChecksumAlgorithm = StorageChecksumAlgorithm.MD5;
        TableServiceClient tables;
        BlobServiceClient blobs;
        if (!string.IsNullOrEmpty(o.StorageConnection))
        {
            tables = new TableServiceClient(o.StorageConnection);
            blobs = new BlobServiceClient(o.StorageConnection, blobOptions);
        }
        else
        {
            var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions
            {
                ManagedIdentityClientId = string.IsNullOrEmpty(o.StorageClientId) ? null : o.StorageClientId,
            });
            tables = new TableServiceClient(new Uri($"https://{o.StorageAccountName}.table.{o.StorageEndpointSuffix}"), credential);
            blobs = new BlobServiceClient(new Uri($"https://{o.StorageAccountName}.blob.{o.StorageEndpointSuffix}"), credential, blobOptions);
        }

        Jobs = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.JobsTable));
        Sequences = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.SequencesTable));
        Datasets = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.DatasetsTable));
        Batches = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.BatchesTable));
        MergePolicies = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.MergePoliciesTable));
        IdentitySettings = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.IdentitySettingsTable));
        Schedules = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.SchedulesTable));
        Idempotency = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.IdempotencyTable));
        SegmentDefinitions = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.SegmentDefinitionsTable));
        SegmentJobs = tables.GetTableClient(StorageNames.Table(o.NamePrefix, StorageNames.SegmentJobsTable));
        Profiles = blobs.GetBlobContainerClient(StorageNames.Container(o.NamePrefix, StorageNames.ProfilesContainer));
        Events = blobs.GetBlobContainerClient(StorageNames.Container(o.NamePrefix, StorageNames.EventsContainer));
        DatasetFiles = blobs.GetBlobContainerClient(StorageNames.Container(o.NamePrefix, StorageNames.DatasetsContainer));
    }

    public TableClient Jobs { get; }
    public TableClient Sequences { get; }
    public TableClient Datasets { get; }
    public TableClient Batches { get; }
    public TableClient MergePolicies { get; }
    public TableClient IdentitySettings { get; }
    public TableClient Schedules { get; }
    public TableClient Idempotency { get; }
    public TableClient SegmentDefinitions { get; }
    public TableClient SegmentJobs { get; }
    public BlobContainerClient Profiles { get; }
    public BlobContainerClient Events { get; }
    public BlobContainerClient DatasetFiles { get; }

    public async Task EnsureCreatedAsync(CancellationToken ct)
    {
        foreach (var table in new[] { Jobs, Sequences, Datasets, Batches, MergePolicies, IdentitySettings, Schedules, Idempotency, SegmentDefinitions, SegmentJobs }) await table.CreateIfNotExistsAsync(ct);
        foreach (var container in new[] { Profiles, Events, DatasetFiles }) await container.CreateIfNotExistsAsync(cancellationToken: ct);
    }
}
