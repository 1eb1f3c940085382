using ExportJobs.Core.MergePolicies;

namespace ExportJobs.Core.Profiles;

/// <summary>
/// In which order a profile's fragments fold, lowest priority first, so that each attribute ends with the value of the
/// fragment that wins it. <c>timestampOrdered</c>: newer ingest wins. <c>dataSetPrecedence</c>: a dataset earlier in the
/// order wins over a later one, any listed dataset over an unlisted one, and between fragments of equal precedence the
/// newer wins. Memberships recorded by segment evaluation outrank every dataset (only evaluation writes them).
/// </summary>
public sealed class MergeRule
{
    private readonly Dictionary<string, int>? _rank;
    /// <summary><see cref="Compare"/> as one delegate, not one made for every profile merged.</summary>
    private readonly Comparison<ProfileFragment> _compare;

    private MergeRule(IReadOnlyList<string>? order)
    {
        _rank = order?.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => order.Count - x.i, StringComparer.Ordinal);
        _compare = Compare;
    }

    public static readonly MergeRule TimestampOrdered = new(null);

    public static MergeRule Of(AttributeMerge? merge) =>
        merge?.Type == MergePolicyRules.DataSetPrecedence && merge.Order is { Count: > 0 } order ? new MergeRule(order) : TimestampOrdered;

    /// <summary>Whether fragments read oldest first can be folded as they come, without holding them.</summary>
    public bool FollowsIngestOrder => _rank is null;

    /// <summary>The fragments folded by rank, then ingest time, in their order otherwise (the list is sorted so, in place).</summary>
    public MergedProfile Merge(Identity identity, List<ProfileFragment> fragments)
    {
        var profile = new MergedProfile(identity);
        foreach (var fragment in fragments.SortStable(_compare)) profile.MergeNewer(fragment);
        return profile;
    }

    private int Compare(ProfileFragment a, ProfileFragment b) => Compare(a.DatasetId, a.IngestTimeMs, b.DatasetId, b.IngestTimeMs);

    /// <summary>How a fragment of one dataset and ingest time folds against one of another: above it when positive.</summary>
    public int Compare(string datasetA, long ingestTimeA, string datasetB, long ingestTimeB)
    {
        int byRank = Rank(datasetA).CompareTo(Rank(datasetB));
        return byRank != 0 ? byRank : ingestTimeA.CompareTo(ingestTimeB);
    }

    private int Rank(string datasetId) =>
        _rank is null ? 0 : datasetId == Segments.SegmentEvaluation.MembershipDatasetId ? int.MaxValue : _rank.GetValueOrDefault(datasetId);
}
