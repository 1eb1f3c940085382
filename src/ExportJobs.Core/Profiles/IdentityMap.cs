using System.Text.Json;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// Reads the primary identity of an XDM record's <c>identityMap</c>
/// (<c>{"email": [{"id": "a@b.c", "primary": true}], "ecid": [{"id": "1"}]}</c>): the one marked primary, or the only
/// identity when none is marked.
/// </summary>
public static class IdentityMap
{
    public const int MaxIdLength = 256;

    /// <summary>The record's member that holds its identities.</summary>
    public const string Member = "identityMap";

    public static bool TryGetPrimary(JsonElement record, out Identity primary, out string? error)
    {
        primary = default;
        error = null;
        if (!record.TryGetProperty(Member, out var map) || map.ValueKind != JsonValueKind.Object || !map.EnumerateObject().Any())
        {
            error = "identityMap is missing or empty.";
            return false;
        }

        Identity? marked = null, only = null;
        int count = 0;
        foreach (var member in map.EnumerateObject())
        {
            string ns = member.Name;
            if (!Ids.IsNamespace(ns))
            {
                error = "identityMap has a namespace outside [A-Za-z0-9._-] or longer than 64.";
                return false;
            }
            if (member.Value.ValueKind != JsonValueKind.Array)
            {
                error = $"identityMap.{ns} must be an array of identities.";
                return false;
            }
            foreach (var identity in member.Value.EnumerateArray())
            {
                if (identity.ValueKind != JsonValueKind.Object || !identity.TryGetProperty("id", out var idValue) ||
                    idValue.ValueKind != JsonValueKind.String || idValue.GetString() is not { Length: > 0 and <= MaxIdLength } id)
                {
                    error = $"identityMap.{ns} has an entry without a string id of 1 to {MaxIdLength} characters.";
                    return false;
                }
                if (id.Any(char.IsControl))
                {
                    error = $"identityMap.{ns} has an id with a control character.";
                    return false;
                }
                count++;
                only = new Identity(ns, id);
                if (identity.TryGetProperty("primary", out var flag) && flag.ValueKind == JsonValueKind.True)
                {
                    if (marked is not null)
                    {
                        error = "identityMap marks more than one identity as primary.";
                        return false;
                    }
                    marked = new Identity(ns, id);
                }
            }
        }

        if (marked is { } m) primary = m;
        else if (count == 1) primary = only!.Value;
        else
        {
            error = "identityMap has several identities and none is marked primary.";
            return false;
        }
        return true;
    }

    /// <summary>Every identity of a stored record's <c>identityMap</c> (checked by <see cref="TryGetPrimary"/> at ingestion), each once, in identity order.</summary>
    public static List<Identity> All(JsonElement record)
    {
        var identities = new List<Identity>();
        if (record.TryGetProperty(Member, out var map) && map.ValueKind == JsonValueKind.Object)
            foreach (var ns in map.EnumerateObject())
                if (ns.Value.ValueKind == JsonValueKind.Array)
                    foreach (var entry in ns.Value.EnumerateArray())
                        if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                        {
                            var identity = new Identity(ns.Name, id.GetString()!);
                            if (!identities.Contains(identity)) identities.Add(identity);
                        }
        identities.Sort(IdentityKey.Order);
        return identities;
    }
}
