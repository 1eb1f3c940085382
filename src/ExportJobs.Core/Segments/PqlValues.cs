using System.Globalization;
using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Segments;

/// <summary>
/// The values PQL computes with: <c>null</c> (missing or unknown), <see cref="string"/>, <see cref="double"/> (every
/// number), <see cref="bool"/>, <see cref="DateTimeOffset"/>, <see cref="List{T}"/> of values, and objects as the
/// <see cref="MergedValue"/> they are read through.
/// A condition is <c>true</c>, <c>false</c> or <c>null</c> (unknown), combined as in SQL.
/// </summary>
public static class PqlValues
{
    /// <summary>A JSON value as PQL computes with it: an object stays the <see cref="MergedValue"/> it is (read through its layers, never built).</summary>
    public static object? FromJson(MergedValue value) => value.Kind switch
    {
        JsonValueKind.Object => value,
        JsonValueKind.Array => FromArray(value.Element),
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => Number(value.Element),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };

    /// <summary>A number of any size JSON allows (past a double's range, an infinity, as the text parsed would be).</summary>
    private static double Number(JsonElement value) =>
        value.TryGetDouble(out double d) ? d : double.Parse(value.GetRawText(), CultureInfo.InvariantCulture);

    private static List<object?> FromArray(JsonElement array)
    {
        var list = new List<object?>(array.GetArrayLength());
        foreach (var item in array.EnumerateArray())
            if (FromJson(MergedValue.Of(item)) is { } value) list.Add(value);
        return list;
    }

    /// <summary><c>value.name</c>: the member of an object; over a list, the members of its elements, flattened.</summary>
    public static object? Member(object? value, string name)
    {
        switch (value)
        {
            case MergedValue obj:
                return obj.TryGetProperty(name, out var member) ? FromJson(member) : null;
            case List<object?> list:
                var members = new List<object?>();
                foreach (var item in list)
                {
                    var inner = Member(item, name);
                    if (inner is List<object?> flattened) members.AddRange(flattened);
                    else if (inner is not null) members.Add(inner);
                }
                return members;
            default:
                return null;
        }
    }

    /// <summary>A value as callers outside evaluation get it: objects built as nodes of their own (a <see cref="MergedValue"/> lives only as long as its documents).</summary>
    public static object? Detached(object? value) => value switch
    {
        MergedValue obj => obj.ToNode(),
        List<object?> list => list.Select(Detached).ToList(),
        _ => value,
    };

    /// <summary>A list as is; a single value as a list of one; null as an empty list.</summary>
    public static List<object?> AsList(object? value) => value switch
    {
        List<object?> list => list,
        null => [],
        _ => [value],
    };

    public static bool? AsCondition(object? value) => value as bool?;

    /// <summary>A date-time, or an RFC 3339 date-time or <c>yyyy-MM-dd</c> date (midnight UTC) written as a string.</summary>
    public static DateTimeOffset? AsDate(object? value)
    {
        if (value is DateTimeOffset date) return date;
        if (value is not string text) return null;
        if (Rfc3339.TryParse(text, out var time)) return time;
        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero)
            : null;
    }

    /// <summary>Whether two values are equal: unknown when either is null; values of different types are never equal.</summary>
    public static bool? Equal(object? a, object? b, bool caseSensitive = true)
    {
        if (a is null || b is null) return null;
        switch (a, b)
        {
            case (double x, double y): return x == y;
            case (string x, string y): return string.Equals(x, y, caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase);
            case (bool x, bool y): return x == y;
            case (List<object?> x, List<object?> y):
                if (x.Count != y.Count) return false;
                for (int i = 0; i < x.Count; i++)
                    if (Equal(x[i], y[i], caseSensitive) != true) return false;
                return true;
            case (DateTimeOffset, _) or (_, DateTimeOffset):
                return AsDate(a) is { } da && AsDate(b) is { } db ? da == db : null;
            default: return false;
        }
    }

    /// <summary>The order of two numbers, strings (ordinal) or dates (a string beside a date is read as one); null otherwise.</summary>
    public static int? Compare(object? a, object? b) => (a, b) switch
    {
        (null, _) or (_, null) => null,
        (double x, double y) => x.CompareTo(y),
        (string x, string y) => string.CompareOrdinal(x, y),
        (DateTimeOffset, _) or (_, DateTimeOffset) => AsDate(a) is { } da && AsDate(b) is { } db ? da.CompareTo(db) : null,
        _ => null,
    };

    public static bool? And(bool? a, bool? b) => a == false || b == false ? false : a == true && b == true ? true : null;
    public static bool? Or(bool? a, bool? b) => a == true || b == true ? true : a == false && b == false ? false : null;
    public static bool? Not(bool? a) => a is null ? null : !a.Value;

    /// <summary>Whether any element of <paramref name="list"/> equals <paramref name="value"/>.</summary>
    public static bool Contains(List<object?> list, object? value)
    {
        foreach (var item in list)
            if (Equal(item, value) == true) return true;
        return false;
    }

    public static string Describe(object? value) => value switch
    {
        null => "null",
        string => "a string",
        double => "a number",
        bool => "a boolean",
        DateTimeOffset => "a date",
        List<object?> => "a list",
        _ => "an object",
    };
}
