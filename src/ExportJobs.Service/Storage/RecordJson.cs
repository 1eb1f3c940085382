using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Azure.Data.Tables;

namespace ExportJobs.Service.Storage;

/// <summary>How a record is kept in a Table entity: its wire JSON in one string property.</summary>
internal static class RecordJson
{
    public const string Property = "Json";

    public static string Write<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.Serialize(value, type);

    public static T Read<T>(TableEntity entity, JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(entity.GetString(Property), type)!;

    public static Task SaveAsync<T>(TableClient table, string partition, string row, T value, JsonTypeInfo<T> type, CancellationToken ct) =>
        table.UpsertEntityAsync(new TableEntity(partition, row) { [Property] = Write(value, type) }, TableUpdateMode.Replace, ct);

    public static async Task<T?> GetAsync<T>(TableClient table, string partition, string row, JsonTypeInfo<T> type, CancellationToken ct) where T : class
    {
        var found = await table.GetEntityIfExistsAsync<TableEntity>(partition, row, cancellationToken: ct);
        return found.HasValue ? Read(found.Value!, type) : null;
    }

    /// <summary>
    /// Deletes an entity; false when there was none. The Tables client does not throw for a missing entity (it answers
    /// the 404 as a response), so the status is what tells.
    /// </summary>
    public static async Task<bool> DeleteAsync(TableClient table, string partition, string row, CancellationToken ct)
    {
        using var response = await table.DeleteEntityAsync(partition, row, Azure.ETag.All, ct);
        return response.Status != 404;
    }

    public static async Task<List<T>> ListAsync<T>(TableClient table, string partition, JsonTypeInfo<T> type, CancellationToken ct)
    {
        var records = new List<T>();
        await foreach (var entity in table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey eq {partition}"), cancellationToken: ct))
            records.Add(Read(entity, type));
        return records;
    }
}
