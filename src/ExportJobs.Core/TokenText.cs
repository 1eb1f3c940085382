using System.Text;
using System.Text.Json;

namespace ExportJobs.Core;

/// <summary>
/// Where a string token's text is in the JSON a reader reads (a member name or a string value, without its quotes):
/// kept while a line is read, made into a string only when a message names it.
/// </summary>
public readonly record struct TokenText(int Start, int Length, bool Escaped)
{
    /// <summary>The text of the string token the reader is on (a reader over one span: no value sequence).</summary>
    public static TokenText Of(ref Utf8JsonReader reader) => new((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length, reader.ValueIsEscaped);

    /// <summary>The text, unescaped, in <paramref name="json"/> (the JSON the reader read).</summary>
    public string In(ReadOnlySpan<byte> json)
    {
        var raw = json.Slice(Start, Length);
        if (!Escaped) return Encoding.UTF8.GetString(raw);
        var reader = new Utf8JsonReader(json.Slice(Start - 1, Length + 2));
        reader.Read();
        return reader.GetString()!;
    }
}
