namespace ExportJobs.Core.Schemas;

/// <summary>
/// Legal XDM names, the one rule for a schema's property names and for the segments of a <c>fields</c> or
/// <c>eventList.fields</c> path: 1 to 128 letters, digits, <c>_</c> and <c>-</c>. A field name does not start with a
/// digit (<c>_tenant</c> fields do start with <c>_</c>); a path segment may, as it may name a map's key — a segment id
/// under <c>segmentMembership.{ns}</c>, say. Ids that become Table keys or blob paths have their own, stricter checks
/// (<see cref="Ids"/>).
/// </summary>
public static class XdmName
{
    public const string PathRule = "1 to 128 letters, digits, '_' and '-'";
    public const string FieldRule = PathRule + ", not starting with a digit";

    public static bool IsPathSegment(string name) => name.Length is > 0 and <= 128 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    public static bool IsFieldName(string name) => IsPathSegment(name) && !char.IsAsciiDigit(name[0]);
}
