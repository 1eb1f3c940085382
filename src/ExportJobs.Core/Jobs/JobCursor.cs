using System.Globalization;

namespace ExportJobs.Core.Jobs;

/// <summary>
/// The seed's paging cursor, <c>{creationTimeMs}_{id}</c> (e.g. <c>1538573416687_722</c>): a page continues
/// with the jobs older than the one it names.
/// </summary>
public readonly record struct JobCursor(long CreationTimeMs, long JobId)
{
    public static JobCursor Of(ExportJob job) => new(job.CreationTime, job.Id);

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{CreationTimeMs}_{JobId}");

    public static bool TryParse(string? text, out JobCursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > 40) return false;
        int sep = text.IndexOf('_');
        if (sep <= 0 || sep != text.LastIndexOf('_')) return false;
        if (!IsDigits(text.AsSpan(0, sep), 15) || !IsDigits(text.AsSpan(sep + 1), 18)) return false;
        long time = long.Parse(text.AsSpan(0, sep), CultureInfo.InvariantCulture);
        long id = long.Parse(text.AsSpan(sep + 1), CultureInfo.InvariantCulture);
        if (id <= 0) return false;
        cursor = new JobCursor(time, id);
        return true;
    }

    private static bool IsDigits(ReadOnlySpan<char> span, int maxLength)
    {
        if (span.IsEmpty || span.Length > maxLength) return false;
        foreach (char c in span) if (c is < '0' or > '9') return false;
        return true;
    }
}
