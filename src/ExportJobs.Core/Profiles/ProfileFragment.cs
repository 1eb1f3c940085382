using System.Text.Json;
using System.Text.Json.Nodes;

namespace ExportJobs.Core.Profiles;

/// <summary>A profile's primary identity: the key under which its fragments merge.</summary>
public readonly record struct Identity(string Namespace, string Id)
{
    public override string ToString() => $"{Namespace}:{Id}";
}

/// <summary>
/// One ingested record of a profile: its identity, when it was ingested, where from, its attributes (a JSON object,
/// valid as long as the document it was read from: see the reader), and its place in its batch (0 for data stored
/// before places were kept).
/// </summary>
public sealed record ProfileFragment(Identity Identity, long IngestTimeMs, string DatasetId, string BatchId, JsonElement Record, long Sequence = 0)
{
    /// <summary>The record as nodes of its own, which outlive the document it was read from.</summary>
    public JsonObject RecordObject() => JsonObject.Create(Record.Clone())!;
}

/// <summary>
/// A profile: the fragments merged so far, each winning over the ones before (see <see cref="MergeRule"/> for the
/// order), read through by <see cref="Value"/> (<see cref="MergedValue"/> holds the merge rule), and the newest ingest
/// time of its fragments.
/// </summary>
public sealed class MergedProfile(Identity identity)
{
    private JsonElement[] _layers = new JsonElement[4];
    private int _count;
    private JsonObject? _attributes;

    public Identity Identity { get; } = identity;

    /// <summary>A profile that has events but no profile record: only its identity.</summary>
    public static MergedProfile Empty(Identity identity)
    {
        var profile = new MergedProfile(identity);
        profile.Push(MergedValue.Of(new JsonObject
        {
            [IdentityMap.Member] = new JsonObject { [identity.Namespace] = new JsonArray(new JsonObject { ["id"] = identity.Id, ["primary"] = true }) },
        }).Element);
        return profile;
    }

    public long UpdateTimeMs { get; private set; } = long.MinValue;

    /// <summary>The merged attributes, read through the fragments (valid as long as they are).</summary>
    public MergedValue Value => MergedValue.Layered(_layers, _count);

    /// <summary>The merged attributes built as nodes (on first use; a copy: changing it does not change the profile).</summary>
    public JsonObject Attributes => _attributes ??= Value.ToNode().AsObject();

    /// <summary>
    /// Merges a fragment that wins over every one merged before. The update time is the newest ingest time whatever the
    /// order; memberships recorded by segment evaluation are not ingested data and leave it as it is.
    /// </summary>
    public void MergeNewer(ProfileFragment fragment)
    {
        Push(fragment.Record);
        if (fragment.DatasetId != Segments.SegmentEvaluation.MembershipDatasetId) UpdateTimeMs = Math.Max(UpdateTimeMs, fragment.IngestTimeMs);
    }

    /// <summary>
    /// Lays a stitched profile's <c>identityMap</c> (a record of it alone) over its fragments, which were read without
    /// theirs: the profile's identities are its graph's.
    /// </summary>
    public void Stitch(JsonElement identityMapRecord) => Push(identityMapRecord);

    private void Push(JsonElement record)
    {
        if (_count == _layers.Length) Array.Resize(ref _layers, _count * 2);
        _layers[_count++] = record;
        _attributes = null;
    }
}

/// <summary>The order in which shards store and stream identities: namespace, a separator below every printable character, id; compared ordinally.</summary>
public static class IdentityKey
{
    public static string Of(string ns, string id) => ns + "\u0001" + id;
    public static string Of(Identity identity) => Of(identity.Namespace, identity.Id);

    /// <summary>
    /// The order of <see cref="Of(string, string)"/> without building the keys: namespaces hold no control character
    /// (<see cref="Ids.IsNamespace"/>), so a namespace that is a prefix of another sorts first, as its key does.
    /// </summary>
    public static int Compare(string nsA, string idA, string nsB, string idB)
    {
        int byNamespace = string.CompareOrdinal(nsA, nsB);
        return byNamespace != 0 ? byNamespace : string.CompareOrdinal(idA, idB);
    }

    public static int Compare(Identity a, Identity b) => Compare(a.Namespace, a.Id, b.Namespace, b.Id);

    /// <summary>The same order with the ids as UTF-8 (<see cref="CompareIds"/>), not made strings.</summary>
    public static int Compare(string nsA, ReadOnlySpan<byte> idA, string nsB, ReadOnlySpan<byte> idB)
    {
        int byNamespace = string.CompareOrdinal(nsA, nsB);
        return byNamespace != 0 ? byNamespace : CompareIds(idA, idB);
    }

    /// <summary>
    /// Two ids' UTF-8 bytes in the order <see cref="string.CompareOrdinal(string, string)"/> puts their strings, without
    /// decoding them. Bytes order characters by code point; UTF-16 does too, except that it writes the supplementary
    /// planes as surrogates (D800–DFFF), below U+E000–U+FFFF, whose UTF-8 lead bytes (EE, EF) are below theirs (F0–F4).
    /// Two ids that agree up to a byte are at the same place in the same character there, so that byte is a lead byte
    /// in both or in neither.
    /// </summary>
    public static int CompareIds(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int same = a.CommonPrefixLength(b);
        if (same == a.Length || same == b.Length) return a.Length.CompareTo(b.Length);
        return InUtf16Order(a[same]).CompareTo(InUtf16Order(b[same]));
    }

    private static int InUtf16Order(byte utf8) => utf8 is 0xEE or 0xEF ? utf8 + 0x10 : utf8;

    public static readonly IComparer<Identity> Order = Comparer<Identity>.Create(Compare);
}
