using System.Text.Json;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// An XDM record's <c>identityMap</c> (<c>{"email": [{"id": "a@b.c", "primary": true}], "ecid": [{"id": "1"}]}</c>):
/// its primary identity is the one marked primary, or the only identity when none is marked (<see cref="IdentityMapCheck"/>).
/// </summary>
public static class IdentityMap
{
    public const int MaxIdLength = 256;

    /// <summary>The record's member that holds its identities.</summary>
    public const string Member = "identityMap";

    /// <summary>Every identity of a stored record's <c>identityMap</c> (checked by <see cref="IdentityMapCheck"/> at ingestion), each once, in identity order.</summary>
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
