namespace ExportJobs.Core.Jobs;

/// <summary>The states of an export job and the moves allowed between them.</summary>
public static class JobStatus
{
    public const string New = "NEW";
    public const string Processing = "PROCESSING";
    public const string Cancelling = "CANCELLING";
    public const string Succeeded = "SUCCEEDED";
    public const string Failed = "FAILED";
    public const string Cancelled = "CANCELLED";

    /// <summary>Every status a job can show, and so every value the <c>status</c> list filter accepts.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        New, Processing, Cancelling, Succeeded, Failed, Cancelled,
    };

    private static readonly Dictionary<string, string[]> Moves = new(StringComparer.Ordinal)
    {
        [New] = [Processing, Cancelling, Failed, Cancelled],
        [Processing] = [Succeeded, Failed, Cancelling, Cancelled],
        [Cancelling] = [Cancelled, Failed],
        [Succeeded] = [],
        [Failed] = [],
        [Cancelled] = [],
    };

    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled;

    public static bool CanMove(string from, string to) =>
        Moves.TryGetValue(from, out var targets) && Array.IndexOf(targets, to) >= 0;
}
