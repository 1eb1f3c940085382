using System.Globalization;
using ExportJobs.Core;
using ExportJobs.Core.Schedules;
using ExportJobs.Core.Segments;

namespace ExportJobs.Service.Schedules;

/// <summary>The checks a schedule passes, and when it runs next.</summary>
public static class ScheduleRules
{
    public static string? Rfc3339(long? ms) => ms is { } value
        ? DateTimeOffset.FromUnixTimeMilliseconds(value).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
        : null;

    /// <summary>The next run after <paramref name="now"/> of an active schedule; null for an inactive one (or a cron that never fires again).</summary>
    public static long? NextRunMs(string? state, CronSchedule cron, DateTimeOffset now) =>
        state == ScheduleStates.Active ? cron.NextAfter(now)?.ToUnixTimeMilliseconds() : null;

    public static ProblemList CheckFields(Schedule schedule)
    {
        var problems = new ProblemList();
        if (schedule.Id is not null || schedule.ImsOrgId is not null || schedule.Sandbox is not null || schedule.CreateEpoch is not null ||
            schedule.UpdateEpoch is not null || schedule.NextRunTime is not null || schedule.LastRunTime is not null || schedule.LastJobId is not null || schedule.LastError is not null)
            problems.Add("id", "id, imsOrgId, sandbox, the epochs and the run fields are set by the service.");
        if (string.IsNullOrWhiteSpace(schedule.Name) || schedule.Name.Length > 256) problems.Add("name", "name is required, at most 256 characters.");
        CheckState(schedule.State ?? ScheduleStates.Inactive, problems);
        var properties = schedule.Properties;
        switch (schedule.Type)
        {
            case ScheduleTypes.Export:
                if (properties is null) problems.Add("properties", "an export schedule's properties are the export job payload.");
                else if (properties.Segments is not null) problems.Add("properties.segments", "properties.segments is for batch_segmentation schedules; an export schedule's properties are the export job payload.");
                else if (properties.Incremental?.AfterJobId is not null)
                    problems.Add("properties.incremental.afterJobId", "an incremental schedule chains its own runs: give \"incremental\": {} without afterJobId.");
                break;
            case ScheduleTypes.BatchSegmentation:
                if (properties?.Segments is null) problems.Add("properties.segments", "a batch_segmentation schedule's properties are {\"segments\": [\"*\"]}, or a list of segment definition ids.");
                else if (properties with { Segments = null } != new ScheduleProperties())
                    problems.Add("properties", "a batch_segmentation schedule's properties hold segments alone.");
                else
                    foreach (var problem in SegmentJobRules.Check(SegmentJobRequestOf(properties)).Items)
                        problems.Add(PropertyOf(problem.Field), problem.Message);
                break;
            default:
                problems.Add("type", "type is export or batch_segmentation.");
                break;
        }
        return problems;
    }

    /// <summary>The field of a schedule's properties a problem of its export job payload or segment list names.</summary>
    public static string PropertyOf(string field) => "properties." + field.Replace("].segmentId", "]", StringComparison.Ordinal);

    /// <summary>The segment job a <c>batch_segmentation</c> schedule's properties ask for.</summary>
    public static SegmentJobRequest SegmentJobRequestOf(ScheduleProperties properties) =>
        new() { Segments = properties.Segments?.Select(id => new SegmentJobSegmentRequest { SegmentId = id }).ToList() };

    public static void CheckState(string? state, ProblemList problems)
    {
        if (state is not (ScheduleStates.Active or ScheduleStates.Inactive)) problems.Add("state", "state is active or inactive.");
    }

    public static CronSchedule? CheckCron(string? text, DateTimeOffset now, TimeSpan minimumInterval, ProblemList problems)
    {
        if (!CronSchedule.TryParse(text, out var cron, out string? error))
        {
            problems.Add("schedule", error!);
            return null;
        }
        string[] fields = text!.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // Quartz's rule: day-of-month and day-of-week cannot both be set (Quartz.NET would OR them).
        if ((fields[3] == "?") == (fields[5] == "?"))
            problems.Add("schedule", "schedule sets exactly one of day-of-month (4th field) and day-of-week (6th field); the other is '?'.");
        else if (cron.NextAfter(now) is null) problems.Add("schedule", "schedule never fires again.");
        else if (cron.ShortestInterval(now) < minimumInterval)
            problems.Add("schedule", $"schedule runs more often than the minimum interval of {minimumInterval.TotalSeconds:0} seconds.");
        return cron;
    }
}
