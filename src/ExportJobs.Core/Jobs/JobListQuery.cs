using System.Globalization;

namespace ExportJobs.Core.Jobs;

/// <summary>The checked query of <c>GET /export/jobs</c>.</summary>
public sealed record JobListQuery(int Limit, JobCursor? After, string? RawOffset, string? Status)
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;

    public static JobListQuery Parse(string? limit, string? offset, string? status, ProblemList problems)
    {
        int parsedLimit = DefaultLimit;
        if (limit is not null &&
            (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out parsedLimit) || parsedLimit < 1 || parsedLimit > MaxLimit))
        {
            problems.Add("limit", $"limit must be an integer from 1 to {MaxLimit}.");
        }

        JobCursor? after = null;
        if (offset is not null)
        {
            if (JobCursor.TryParse(offset, out var cursor)) after = cursor;
            else problems.Add("offset", "offset must be a cursor of the form {creationTimeMs}_{id}, as given in link.next.");
        }

        if (status is not null && !JobStatus.All.Contains(status))
        {
            problems.Add("status", $"status must be one of {string.Join(", ", JobStatus.All)}.");
        }

        return new JobListQuery(parsedLimit, after, offset, status);
    }

    /// <summary>The seed's <c>link.next</c>: <c>/export/jobs/?limit={limit}&amp;offset={cursor}</c>, keeping the status filter.</summary>
    public string NextLink(JobCursor last) =>
        $"/export/jobs/?limit={Limit}&offset={last}" + (Status is null ? "" : $"&status={Status}");
}
