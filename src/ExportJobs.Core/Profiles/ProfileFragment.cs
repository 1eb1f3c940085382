using System.Text.Json.Nodes;

namespace ExportJobs.Core.Profiles;

/// <summary>A profile's primary identity: the key under which its fragments merge.</summary>
public readonly record struct Identity(string Namespace, string Id)
{
    public override string ToString() => $"{Namespace}:{Id}";
}

/// <summary>One ingested record of a profile: its identity, when it was ingested, where from, and its attributes.</summary>
public sealed record ProfileFragment(Identity Identity, long IngestTimeMs, string DatasetId, string BatchId, JsonObject Record);

/// <summary>A profile after its fragments were merged: the attributes and the newest ingest time of its fragments.</summary>
public sealed class MergedProfile(Identity identity)
{
    public Identity Identity { get; } = identity;

    /// <summary>A profile that has events but no profile record: only its identity.</summary>
    public static MergedProfile Empty(Identity identity)
    {
        var profile = new MergedProfile(identity);
        profile.Attributes["identityMap"] = new JsonObject
        {
            [identity.Namespace] = new JsonArray(new JsonObject { ["id"] = identity.Id, ["primary"] = true }),
        };
        return profile;
    }
    public JsonObject Attributes { get; } = new();
    public long UpdateTimeMs { get; private set; } = long.MinValue;

    /// <summary>
    /// Merges a fragment that wins over every one merged before (see <see cref="MergeRule"/> for the order).
    /// Objects merge member by member; any other value (arrays included) replaces the earlier one; a JSON null does not
    /// erase an earlier value. The update time is the newest ingest time whatever the order; memberships recorded by
    /// segment evaluation are not ingested data and leave it as it is.
    /// </summary>
    public void MergeNewer(ProfileFragment fragment)
    {
        DeepMerge(Attributes, fragment.Record);
        if (fragment.DatasetId != Segments.SegmentEvaluation.MembershipDatasetId) UpdateTimeMs = Math.Max(UpdateTimeMs, fragment.IngestTimeMs);
    }

    private static void DeepMerge(JsonObject target, JsonObject newer)
    {
        foreach (var (name, value) in newer)
        {
            if (value is null) continue;
            if (value is JsonObject newerObject && target[name] is JsonObject olderObject)
                DeepMerge(olderObject, newerObject);
            else
                target[name] = value.DeepClone();
        }
    }
}

/// <summary>The order in which shards store and stream identities: namespace, a separator below every printable character, id; compared ordinally.</summary>
public static class IdentityKey
{
    public static string Of(string ns, string id) => ns + "\u0001" + id;
    public static string Of(Identity identity) => Of(identity.Namespace, identity.Id);
}
