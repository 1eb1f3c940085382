using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Identities;

/// <summary>
/// Two identities of one fragment's <c>identityMap</c>, linked as of the fragment: its batch's ingest time, then its
/// place in the batch (later is newer).
/// </summary>
public readonly record struct IdentityLink(Identity A, Identity B, long IngestTimeMs, long Order)
{
    /// <summary>Newer first: by ingest time, then by place in the batch, then by the identities (so the order is total).</summary>
    public static int NewestFirst(IdentityLink x, IdentityLink y)
    {
        int order = y.IngestTimeMs.CompareTo(x.IngestTimeMs);
        if (order == 0) order = y.Order.CompareTo(x.Order);
        if (order == 0) order = IdentityKey.Compare(x.A, y.A);
        return order != 0 ? order : IdentityKey.Compare(x.B, y.B);
    }

    /// <summary>Whether this link is newer than <paramref name="other"/>.</summary>
    public bool IsNewerThan(IdentityLink other) => NewestFirst(this, other) < 0;

    /// <summary>The identities of a record's <c>identityMap</c>, each linked to every other one: none for a record of one identity.</summary>
    public static List<IdentityLink> Of(JsonElement record, long ingestTimeMs, long order)
    {
        var identities = IdentityMap.All(record);
        var links = new List<IdentityLink>();
        for (int i = 0; i < identities.Count; i++)
            for (int j = i + 1; j < identities.Count; j++)
                links.Add(new IdentityLink(identities[i], identities[j], ingestTimeMs, order));
        return links;
    }
}
