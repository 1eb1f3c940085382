using System.Text.Json;
using System.Text.Json.Serialization;
using ExportJobs.Core.Datasets;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core;

/// <summary>The wire JSON of every contract: camelCase names, nulls left out, names read case-insensitively.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ExportJobRequest))]
[JsonSerializable(typeof(ExportJob))]
[JsonSerializable(typeof(ExportJobPage))]
[JsonSerializable(typeof(DeleteAnswer))]
[JsonSerializable(typeof(DatasetRequest))]
[JsonSerializable(typeof(Dataset))]
[JsonSerializable(typeof(DatasetBatch))]
public sealed partial class CoreJson : JsonSerializerContext
{
    public static JsonSerializerOptions Wire => Default.Options;
}
