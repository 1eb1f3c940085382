namespace ExportJobs.Core;

/// <summary>
/// Text that may quote a caller's data of any length, cut to a bound before it is shown or kept: never between the two
/// halves of a surrogate pair, "…" marking the cut.
/// </summary>
public static class ShownText
{
    public static string Cut(string text, int max) =>
        text.Length <= max ? text : text[..(char.IsHighSurrogate(text[max - 1]) ? max - 1 : max)] + "…";
}
