using System.ComponentModel.DataAnnotations;

namespace ExportJobs.Service.Schedules;

/// <summary>Section <c>ExportJobs:Schedules</c>.</summary>
public sealed class ScheduleOptions
{
    public const string Section = "ExportJobs:Schedules";

    /// <summary>The shortest time allowed between two runs of a schedule. The public service allows one run a day; the default here is a minute.</summary>
    [Range(1, 7 * 24 * 3600)] public int MinimumIntervalSeconds { get; set; } = 60;
}
