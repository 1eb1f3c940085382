using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using Microsoft.Extensions.Options;
using Parquet;
using Parquet.Serialization;

namespace ExportJobs.Service.Storage;

/// <summary>
/// The profile store: immutable Parquet fragment files, one per shard per ingested batch, at
/// <c>{org}/{sandbox}/shard-{k}/{ingestTimeMs}-{batchId}.parquet</c>. The ingest time leads the file name, so a plain
/// listing of a shard returns its fragments oldest first, the order in which they merge.
/// </summary>
public sealed class ProfileStore(StorageClients clients, IOptions<ExportStorageOptions> options)
{
    private const int RowGroupSize = 10_000;
    private const string ShardFolder = "shard-";

    public int ShardCount => options.Value.ShardCount;

    /// <summary>Writes the records of one batch, each to the shard of its primary identity.</summary>
    public async Task WriteBatchAsync(Tenant tenant, string datasetId, string batchId, long ingestTimeMs,
        IEnumerable<(Identity Identity, JsonObject Record)> records, CancellationToken ct)
    {
        var byShard = new SortedDictionary<int, List<FragmentRow>>();
        foreach (var (identity, record) in records)
        {
            int shard = ShardRouter.ShardOf(identity, ShardCount);
            if (!byShard.TryGetValue(shard, out var rows)) byShard[shard] = rows = [];
            rows.Add(new FragmentRow
            {
                IdentityNamespace = identity.Namespace,
                IdentityId = identity.Id,
                IngestTimeMs = ingestTimeMs,
                DatasetId = datasetId,
                BatchId = batchId,
                Record = record.ToJsonString(),
            });
        }
        foreach (var (shard, rows) in byShard)
        {
            using var buffer = new MemoryStream();
            await ParquetSerializer.SerializeAsync(rows, buffer, new ParquetOptions { RowGroupSize = RowGroupSize }, cancellationToken: ct);
            buffer.Position = 0;
            string name = $"{ShardPrefix(tenant, shard)}{ingestTimeMs.ToString("D15", CultureInfo.InvariantCulture)}-{batchId}.parquet";
            await clients.Profiles.GetBlobClient(name).UploadAsync(buffer, overwrite: true, ct);
        }
    }

    /// <summary>The shards of a tenant that hold any fragment, in order.</summary>
    public async Task<IReadOnlyList<int>> ListShardsAsync(Tenant tenant, CancellationToken ct)
    {
        var shards = new List<int>();
        string prefix = tenant.BlobPrefix + "/";
        await foreach (var item in clients.Profiles.GetBlobsByHierarchyAsync(new GetBlobsByHierarchyOptions { Prefix = prefix, Delimiter = "/" }, ct))
        {
            if (!item.IsPrefix) continue;
            string folder = item.Prefix[prefix.Length..].TrimEnd('/');
            if (folder.StartsWith(ShardFolder, StringComparison.Ordinal) &&
                int.TryParse(folder.AsSpan(ShardFolder.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int shard))
                shards.Add(shard);
        }
        shards.Sort();
        return shards;
    }

    /// <summary>The fragments of one shard, oldest file first, one row group in memory at a time.</summary>
    public async IAsyncEnumerable<ProfileFragment> ReadShardAsync(Tenant tenant, int shard, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var blob in clients.Profiles.GetBlobsAsync(new GetBlobsOptions { Prefix = ShardPrefix(tenant, shard) }, ct))
        {
            await using var stream = await clients.Profiles.GetBlobClient(blob.Name).OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), ct);
            int groups;
            await using (var reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true, cancellationToken: ct)) groups = reader.RowGroupCount;
            for (int group = 0; group < groups; group++)
            {
                stream.Position = 0;
                foreach (var row in (await ParquetSerializer.DeserializeAsync<FragmentRow>(stream, rowGroupIndex: group, cancellationToken: ct)).Data)
                {
                    yield return new ProfileFragment(
                        new Identity(row.IdentityNamespace, row.IdentityId), row.IngestTimeMs, row.DatasetId, row.BatchId,
                        (JsonObject)JsonNode.Parse(row.Record)!);
                }
            }
        }
    }

    private static string ShardPrefix(Tenant tenant, int shard) =>
        $"{tenant.BlobPrefix}/{ShardFolder}{shard.ToString("D4", CultureInfo.InvariantCulture)}/";

    /// <summary>One fragment as a Parquet row: identity, provenance, and the record's JSON.</summary>
    public sealed class FragmentRow
    {
        public string IdentityNamespace { get; set; } = "";
        public string IdentityId { get; set; } = "";
        public long IngestTimeMs { get; set; }
        public string DatasetId { get; set; } = "";
        public string BatchId { get; set; } = "";
        public string Record { get; set; } = "";
    }
}
