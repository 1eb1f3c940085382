using System.Text.Json;

namespace ExportJobs.Core.Tests;

public class Rfc3339Tests
{
    private static readonly string[] Years = ["0001", "0999", "1000", "2024", "9998", "9999", "0000", "20x4"];
    private static readonly string[] Months = ["01", "02", "04", "12", "00", "13"];
    private static readonly string[] Days = ["01", "28", "29", "30", "31", "00", "32"];
    private static readonly string[] Hours = ["00", "23", "24"];
    private static readonly string[] Minutes = ["00", "59", "60"];
    private static readonly string[] Seconds = ["00", "59", "60"];
    private static readonly string[] Fractions = ["", ".5", ".1234567", ".0000001", ".", ".12345678", ".5x"];
    private static readonly string[] Separators = ["T", "t", " ", "X"];
    private static readonly string[] Offsets = ["Z", "z", "+00:00", "-00:30", "+05:30", "-13:59", "+13:59", "+14:00", "-14:00", "+14:01", "+15:00", "+05:60", "", "+0500", "+05:3", "Zz"];

    /// <summary>
    /// Date-times built from every part's usual and edge values: over the whole cartesian product of those near a usual
    /// date-time, and a seeded sample of the rest.
    /// </summary>
    public static IEnumerable<string> Texts()
    {
        var random = new Random(3339);
        string Pick(string[] values, int usualBelow) => random.Next(3) == 0 ? values[random.Next(values.Length)] : values[random.Next(usualBelow)];
        for (int i = 0; i < 20_000; i++)
            yield return $"{Pick(Years, 5)}-{Pick(Months, 4)}-{Pick(Days, 5)}{Pick(Separators, 2)}{Pick(Hours, 2)}:{Pick(Minutes, 2)}:{Pick(Seconds, 2)}{Pick(Fractions, 4)}{Pick(Offsets, 10)}";
        foreach (string year in Years)
        foreach (string month in Months)
        foreach (string day in Days)
        foreach (string offset in Offsets)
            yield return $"{year}-{month}-{day}T23:59:59.9999999{offset}";
    }

    [Fact]
    public void A_date_time_read_from_a_documents_bytes_is_what_its_text_parses_to()
    {
        int valid = 0, checkedTexts = 0;
        foreach (string text in Texts())
        {
            using var document = JsonDocument.Parse(JsonSerializer.Serialize(text));
            bool expected = Rfc3339.TryParse(text, out var expectedValue);
            bool actual = Rfc3339.TryParse(document.RootElement, out var actualValue);
            Assert.True(expected == actual, $"{text}: the string path says {expected}, the bytes {actual}");
            Assert.True(expectedValue == actualValue && expectedValue.Offset == actualValue.Offset, $"{text}: {expectedValue:O} against {actualValue:O}");
            valid += expected ? 1 : 0;
            checkedTexts++;
        }
        // Both kinds were checked, in numbers: a generator that only made one kind would prove nothing.
        Assert.InRange(valid, checkedTexts / 10, checkedTexts - checkedTexts / 10);
    }

    [Theory]
    [InlineData("\"\\u0032018-01-01T00:00:00Z\"", true)]
    [InlineData("\"2018-01-01T00:00:00\\u005a\"", true)]
    [InlineData("\"2018-01-01T00:00:00\\u002b01:00\"", true)]
    [InlineData("\"2018-02-30T00:00:00Z\"", false)]
    [InlineData("20180101", false)]
    [InlineData("null", false)]
    public void An_escaped_or_odd_value_is_decided_by_its_text(string json, bool valid)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Equal(valid, Rfc3339.TryParse(document.RootElement, out var value));
        if (valid) Assert.Equal(DateTimeOffset.Parse(document.RootElement.GetString()!, System.Globalization.CultureInfo.InvariantCulture), value);
    }
}
