using System.Text.RegularExpressions;

namespace ExportJobs.Core;

/// <summary>
/// The character sets of every id that becomes a Table key, an OData filter or a blob path.
/// Anything outside them is refused before it reaches storage: no quotes, slashes, '#', '?', '..' or control characters.
/// </summary>
public static partial class Ids
{
    [GeneratedRegex("^[A-Za-z0-9@._-]{1,64}$")] private static partial Regex OrgPattern();
    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")] private static partial Regex SandboxPattern();
    [GeneratedRegex("^[A-Za-z0-9]{1,64}$")] private static partial Regex DatasetPattern();
    [GeneratedRegex("^[A-Za-z0-9]{1,64}$")] private static partial Regex BatchPattern();
    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")] private static partial Regex SegmentPattern();
    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")] private static partial Regex NamespacePattern();
    [GeneratedRegex("^[A-Za-z0-9-]{1,64}$")] private static partial Regex RequestIdPattern();
    [GeneratedRegex("^[A-Za-z0-9._-]{1,128}$")] private static partial Regex MergePolicyPattern();

    public static bool IsOrgId(string? value) => value is not null && OrgPattern().IsMatch(value) && !value.Contains("..");
    public static bool IsSandbox(string? value) => value is not null && SandboxPattern().IsMatch(value);
    public static bool IsDatasetId(string? value) => value is not null && DatasetPattern().IsMatch(value);
    public static bool IsBatchId(string? value) => value is not null && BatchPattern().IsMatch(value);
    public static bool IsSegmentId(string? value) => value is not null && SegmentPattern().IsMatch(value);
    public static bool IsNamespace(string? value) => value is not null && NamespacePattern().IsMatch(value) && !value.Contains("..");
    public static bool IsRequestId(string? value) => value is not null && RequestIdPattern().IsMatch(value);
    public static bool IsMergePolicyId(string? value) => value is not null && MergePolicyPattern().IsMatch(value) && !value.Contains("..");

    /// <summary>A new merge policy id: a GUID, the shape of the platform's own.</summary>
    public static string NewMergePolicyId() => Guid.NewGuid().ToString();

    /// <summary>A job id as it appears in a path: a positive integer without sign or leading zeros.</summary>
    public static bool TryParseJobId(string? value, out long id)
    {
        id = 0;
        if (string.IsNullOrEmpty(value) || value.Length > 18 || value[0] == '0') return false;
        foreach (char c in value) if (c is < '0' or > '9') return false;
        id = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
        return true;
    }

    /// <summary>A new random id of 32 lowercase hex characters (batch ids).</summary>
    public static string NewBatchId() => Guid.NewGuid().ToString("N");

    /// <summary>A new random id of 24 lowercase hex characters, the shape of the seed's dataset ids.</summary>
    public static string NewDatasetId() => Guid.NewGuid().ToString("N")[..24];
}
