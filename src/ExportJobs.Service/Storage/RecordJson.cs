using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Azure.Data.Tables;

namespace ExportJobs.Service.Storage;

/// <summary>How a record is kept in a Table entity: its wire JSON in one string property.</summary>
public static class RecordJson
{
    public const string Property = "Json";

    /// <summary>The most characters a Table string property holds (64 KiB of UTF-16).</summary>
    public const int MaxChars = 32 * 1024;

    /// <summary>The record's JSON, or <see cref="ValueTooLargeException"/> when the Table cannot hold it (named by the record's type).</summary>
    public static string Write<T>(T value, JsonTypeInfo<T> type)
    {
        string json = JsonSerializer.Serialize(value, type);
        if (json.Length > MaxChars)
        {
            string field = char.ToLowerInvariant(typeof(T).Name[0]) + typeof(T).Name[1..];
            throw new ValueTooLargeException(field, $"The {field} is {json.Length} characters as stored; at most {MaxChars} are kept. Shorten its longest lists or texts.");
        }
        return json;
    }

    public static T Read<T>(TableEntity entity, JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(entity.GetString(Property), type)!;

    /// <summary>Writes the record whatever is there; its ETag.</summary>
    public static async Task<Azure.ETag> SaveAsync<T>(TableClient table, string partition, string row, T value, JsonTypeInfo<T> type, CancellationToken ct) =>
        (await table.UpsertEntityAsync(new TableEntity(partition, row) { [Property] = Write(value, type) }, TableUpdateMode.Replace, ct)).Headers.ETag ?? default;

    /// <summary>A record and the ETag it was read or written with (the HTTP <c>ETag</c> of a replaceable resource).</summary>
    public readonly record struct Versioned<T>(T Value, Azure.ETag ETag);

    /// <summary>What a compare-and-swap did; <c>Unchanged</c>: the change asked for no write.</summary>
    public enum ReplaceOutcome { Replaced, Unchanged, NotFound, Stale }

    public static async Task<Versioned<T>?> GetVersionedAsync<T>(TableClient table, string partition, string row, JsonTypeInfo<T> type, CancellationToken ct)
    {
        var found = await table.GetEntityIfExistsAsync<TableEntity>(partition, row, cancellationToken: ct);
        return found.HasValue ? new Versioned<T>(Read(found.Value!, type), found.Value!.ETag) : null;
    }

    /// <summary>Inserts a new record; its ETag.</summary>
    public static async Task<Azure.ETag> AddAsync<T>(TableClient table, string partition, string row, T value, JsonTypeInfo<T> type, CancellationToken ct) =>
        (await table.AddEntityAsync(new TableEntity(partition, row) { [Property] = Write(value, type) }, ct)).Headers.ETag ?? default;

    /// <summary>
    /// Applies <paramref name="change"/> by compare-and-swap on the entity's ETag, so that no concurrent writer's update is
    /// lost: with <paramref name="ifMatch"/>, only to that version (else <see cref="ReplaceOutcome.Stale"/>); without, a
    /// lost race reads again and reapplies the change.
    /// </summary>
    public static async Task<(ReplaceOutcome Outcome, Versioned<T> Record)> ReplaceAsync<T>(TableClient table, string partition, string row, JsonTypeInfo<T> type,
        Func<T, T> change, Azure.ETag? ifMatch, CancellationToken ct)
    {
        var (outcome, updated, etag) = await ReplaceEntityAsync(table, partition, row, entity =>
        {
            var updated = change(Read(entity, type));
            return (new TableEntity(partition, row) { [Property] = Write(updated, type) }, updated);
        }, ifMatch, ct);
        return (outcome, new Versioned<T>(updated, etag));
    }

    /// <summary>
    /// The compare-and-swap of <see cref="ReplaceAsync{T}"/> for an entity that keeps more than its record (a schedule's
    /// query columns): <paramref name="change"/> builds the whole replacement entity from the one read, and a result.
    /// </summary>
    public static async Task<(ReplaceOutcome Outcome, TResult Result, Azure.ETag ETag)> ReplaceEntityAsync<TResult>(TableClient table, string partition, string row,
        Func<TableEntity, (TableEntity? Entity, TResult Result)> change, Azure.ETag? ifMatch, CancellationToken ct)
    {
        while (true)
        {
            var found = await table.GetEntityIfExistsAsync<TableEntity>(partition, row, cancellationToken: ct);
            if (!found.HasValue) return (ReplaceOutcome.NotFound, default!, default);
            var entity = found.Value!;
            if (ifMatch is { } expected && expected != entity.ETag) return (ReplaceOutcome.Stale, default!, default);
            var (replacement, result) = change(entity);
            if (replacement is null) return (ReplaceOutcome.Unchanged, result, entity.ETag);
            try
            {
                var response = await table.UpdateEntityAsync(replacement, entity.ETag, TableUpdateMode.Replace, ct);
                return (ReplaceOutcome.Replaced, result, response.Headers.ETag ?? default);
            }
            catch (Azure.RequestFailedException e) when (e.Status is 412 or 404)
            {
                if (ifMatch is not null) return (ReplaceOutcome.Stale, default!, default);
            }
        }
    }

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
