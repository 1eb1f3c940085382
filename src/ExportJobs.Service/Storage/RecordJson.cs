using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ExportJobs.Service.Storage;

/// <summary>How a record is kept in a Table entity: its wire JSON in one string property.</summary>
internal static class RecordJson
{
    public const string Property = "Json";

    public static string Write<T>(T value, JsonTypeInfo<T> type) => JsonSerializer.Serialize(value, type);

    public static T Read<T>(Azure.Data.Tables.TableEntity entity, JsonTypeInfo<T> type) =>
        JsonSerializer.Deserialize(entity.GetString(Property), type)!;
}
