using System.Globalization;
using System.Text.RegularExpressions;

namespace ExportJobs.Core;

/// <summary>RFC 3339 date-times (<c>2018-01-01T00:00:00Z</c>, <c>2018-01-01T01:00:00.5+01:00</c>): an offset is required.</summary>
public static partial class Rfc3339
{
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,7})?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Shape();

    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        return text is not null && Shape().IsMatch(text) &&
               DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out value);
    }

    /// <summary>UTC with milliseconds: <c>2026-11-29T10:00:00.123Z</c>.</summary>
    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static long? ToEpochMs(string? text) => TryParse(text, out var value) ? value.ToUnixTimeMilliseconds() : null;
}
