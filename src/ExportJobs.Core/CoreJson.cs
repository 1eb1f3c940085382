using System.Text.Encodings.Web;
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
[JsonSerializable(typeof(AudienceKey))]
[JsonSerializable(typeof(DeleteAnswer))]
[JsonSerializable(typeof(DatasetRequest))]
[JsonSerializable(typeof(Dataset))]
[JsonSerializable(typeof(DatasetBatch))]
[JsonSerializable(typeof(DatasetList))]
[JsonSerializable(typeof(DatasetBatchList))]
[JsonSerializable(typeof(BatchFileList))]
[JsonSerializable(typeof(MergePolicies.MergePolicy))]
[JsonSerializable(typeof(MergePolicies.MergePolicyList))]
[JsonSerializable(typeof(MergePolicyRef))]
[JsonSerializable(typeof(Schedules.Schedule))]
[JsonSerializable(typeof(Schedules.ScheduleList))]
[JsonSerializable(typeof(List<Schedules.PatchOperation>))]
[JsonSerializable(typeof(Segments.SegmentDefinition))]
[JsonSerializable(typeof(Segments.SegmentDefinitionRequest))]
[JsonSerializable(typeof(Segments.SegmentDefinitionList))]
[JsonSerializable(typeof(Segments.SegmentJob))]
[JsonSerializable(typeof(Segments.SegmentJobRequest))]
[JsonSerializable(typeof(List<Segments.SegmentJobSegmentRequest>))]
[JsonSerializable(typeof(Segments.SegmentJobList))]
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonNode))]
[JsonSerializable(typeof(Identities.IdentitySettings))]
[JsonSerializable(typeof(Dictionary<string, string>))]
public sealed partial class CoreJson : JsonSerializerContext
{
    /// <summary>The context every answer and record is written with: as <see cref="Default"/>, but '&amp;' and other
    /// HTML-sensitive characters stay as they are (a <c>link.next</c> reads as the seed's).</summary>
    public static CoreJson Wire => field ??= new(new JsonSerializerOptions(Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>The context request bodies are read with: as <see cref="Wire"/>, but a member the contract does not
    /// have is an error (with its path), as is a member given twice.</summary>
    public static CoreJson Requests => field ??= new(new JsonSerializerOptions(Wire.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    });
}
