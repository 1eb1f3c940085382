using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
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

    /// <summary>
    /// The same as <see cref="TryParse(string?, out DateTimeOffset)"/> of a JSON string's text, without making the text
    /// (ingestion checks every date-time of every line, exports convert every one they write): a usual date-time is read
    /// from the document's bytes as they are; anything else — escapes, a year, offset or second at the edge of the
    /// range, a shape that is not a date-time — is decided by the string path.
    /// </summary>
    public static bool TryParse(JsonElement value, out DateTimeOffset parsed)
    {
        parsed = default;
        if (value.ValueKind != JsonValueKind.String) return false;
        var raw = JsonMarshal.GetRawUtf8Value(value);
        return TryParseUsual(raw[1..^1], out parsed) || TryParse(value.GetString(), out parsed);
    }

    /// <summary>The string token a reader is on as a date-time, read as <see cref="TryParse(JsonElement, out DateTimeOffset)"/> reads one.</summary>
    public static bool TryParse(ref Utf8JsonReader reader, out DateTimeOffset parsed)
    {
        parsed = default;
        if (reader.TokenType != JsonTokenType.String) return false;
        return (!reader.ValueIsEscaped && !reader.HasValueSequence && TryParseUsual(reader.ValueSpan, out parsed)) || TryParse(reader.GetString(), out parsed);
    }

    /// <summary>
    /// A date-time read straight from its UTF-8 digits when it is well inside every range (years 1000–9998, offsets under
    /// 14 hours, seconds under 60), where the string path is known to agree; false leaves the decision to that path.
    /// </summary>
    private static bool TryParseUsual(ReadOnlySpan<byte> text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length < 20 || text[4] != '-' || text[7] != '-' || (text[10] | 0x20) != 't' || text[13] != ':' || text[16] != ':') return false;
        if (!TryDigits(text[..4], out int year) || !TryDigits(text.Slice(5, 2), out int month) || !TryDigits(text.Slice(8, 2), out int day) ||
            !TryDigits(text.Slice(11, 2), out int hour) || !TryDigits(text.Slice(14, 2), out int minute) || !TryDigits(text.Slice(17, 2), out int second))
            return false;
        if (year is < 1000 or > 9998 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
            return false;
        int at = 19;
        long ticks = 0;
        if (text[at] == '.')
        {
            int digits = 0;
            while (++at < text.Length && (uint)(text[at] - '0') <= 9)
            {
                if (++digits > 7) return false;
                ticks = ticks * 10 + (text[at] - '0');
            }
            if (digits == 0) return false;
            for (; digits < 7; digits++) ticks *= 10;
        }
        var rest = text[at..];
        TimeSpan offset;
        if (rest.Length == 1 && (rest[0] | 0x20) == 'z') offset = TimeSpan.Zero;
        else if (rest.Length == 6 && rest[0] is (byte)'+' or (byte)'-' && rest[3] == ':' &&
                 TryDigits(rest.Slice(1, 2), out int offsetHours) && TryDigits(rest.Slice(4, 2), out int offsetMinutes) && offsetHours < 14 && offsetMinutes < 60)
            offset = new TimeSpan(rest[0] == '-' ? -offsetHours : offsetHours, rest[0] == '-' ? -offsetMinutes : offsetMinutes, 0);
        else return false;
        value = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(ticks);
        return true;
    }

    private static bool TryDigits(ReadOnlySpan<byte> digits, out int number)
    {
        number = 0;
        foreach (byte b in digits)
        {
            if ((uint)(b - '0') > 9) return false;
            number = number * 10 + (b - '0');
        }
        return true;
    }

    /// <summary>UTC with milliseconds: <c>2026-11-29T10:00:00.123Z</c>.</summary>
    public static string Format(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static long? ToEpochMs(string? text) => TryParse(text, out var value) ? value.ToUnixTimeMilliseconds() : null;
}
