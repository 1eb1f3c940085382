using ExportJobs.Core;
using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>A route's id as the request gave it: its value once checked, or the 400 that answers a malformed one.</summary>
public readonly record struct RouteId<T>(T Value, IResult? Problem);

/// <summary>
/// The ids in the API's routes, each checked in one place against its strict character set before it becomes a Table
/// key, an OData filter or a blob path (<see cref="Ids"/>).
/// </summary>
public static class RouteIds
{
    public static RouteId<long> Job(string id) =>
        Ids.TryParseJobId(id, out long value) ? new(value, null) : new(0, Problems.Invalid("id", "A job id is a positive integer."));

    public static RouteId<long> SegmentJob(string id) =>
        Ids.TryParseJobId(id, out long value) ? new(value, null) : new(0, Problems.Invalid("id", "A segment job id is a positive integer."));

    public static RouteId<string> Dataset(string id) => Checked(id, Ids.IsDatasetId(id), "datasetId", "A dataset id is 1 to 64 letters or digits.");

    public static RouteId<string> Batch(string id) => Checked(id, Ids.IsBatchId(id), "batchId", "A batch id is 1 to 64 letters or digits.");

    public static RouteId<string> MergePolicy(string id) =>
        Checked(id, Ids.IsMergePolicyId(id), "id", "A merge policy id is 1 to 128 characters of [A-Za-z0-9._-].");

    public static RouteId<string> SegmentDefinition(string id) =>
        Checked(id, Ids.IsSegmentId(id), "id", "A segment definition id has characters outside [A-Za-z0-9._:-] or is longer than 128.");

    public static RouteId<string> Schedule(string id) => Checked(id, Guid.TryParseExact(id, "D", out _), "id", "A schedule id is a GUID.");

    private static RouteId<string> Checked(string id, bool valid, string field, string message) =>
        valid ? new(id, null) : new(id, Problems.Invalid(field, message));
}
