using Quartz;

namespace ExportJobs.Service.Schedules;

/// <summary>A Quartz cron expression (seconds first, 6 or 7 fields, <c>? L W #</c>), evaluated in UTC, parsed by Quartz.NET.</summary>
public sealed class CronSchedule
{
    /// <summary>How often the timer looks for due schedules, on both hosts (Functions' NCRONTAB and Quartz read it alike).</summary>
    public const string TimerCron = "0 * * * * *";

    /// <summary>How often the watchdog looks for stuck jobs, on both hosts: every minute, half a minute after the schedules.</summary>
    public const string WatchdogCron = "30 * * * * *";

    private readonly CronExpression _expression;

    private CronSchedule(CronExpression expression) => _expression = expression;

    public static bool TryParse(string? text, out CronSchedule schedule, out string? error)
    {
        schedule = null!;
        error = null;
        int fields = text?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length ?? 0;
        if (text is null || text.Length > 256 || fields is < 6 or > 7 || text.Any(c => c != ' ' && (char.IsControl(c) || char.IsWhiteSpace(c))))
        {
            error = "schedule is a Quartz cron expression of 6 or 7 fields separated by spaces, seconds first (e.g. \"0 0 1 * * ?\"), without control characters.";
            return false;
        }
        try
        {
            schedule = new CronSchedule(new CronExpression(text, TimeZoneInfo.Utc));
            return true;
        }
        catch (FormatException e)
        {
            error = $"schedule is not a valid Quartz cron expression: {e.Message}";
            return false;
        }
    }

    public static CronSchedule Parse(string text) =>
        TryParse(text, out var schedule, out string? error) ? schedule : throw new FormatException(error);

    /// <summary>The first fire time strictly after <paramref name="after"/>, or null when the expression never fires again.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after) => _expression.GetNextValidTimeAfter(after);

    /// <summary>The shortest gap between the next few fire times after <paramref name="from"/> (how often it really runs).</summary>
    public TimeSpan ShortestInterval(DateTimeOffset from, int samples = 5)
    {
        var shortest = TimeSpan.MaxValue;
        var previous = NextAfter(from);
        for (int i = 0; i < samples && previous is { } p; i++)
        {
            var next = NextAfter(p);
            if (next is { } n && n - p < shortest) shortest = n - p;
            previous = next;
        }
        return shortest;
    }
}
