using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Decides an identity's requested segments from the memberships index of its rows (<see cref="MembershipIndex"/>),
/// as <see cref="ExportSelection"/> decides them from the merged profile: an entry's status and qualification time are
/// each those of the row of highest precedence that holds one (by <c>rule</c>, then as the read orders an identity's
/// fragments), so a profile whose rows the index all describes is decided without its member being decoded or parsed.
/// </summary>
public sealed class IndexedSegmentFilter(ExportSelection selection, MergeRule rule)
{
    private readonly List<int> _decided = [];
    private Identity? _identity;

    /// <summary>The requested segments <paramref name="identity"/> qualifies for, when the last identity decided is it; null otherwise.</summary>
    public IReadOnlyList<int>? DecidedFor(Identity identity) => _identity == identity ? _decided : null;

    /// <summary>Whether the identity of <paramref name="rows"/> qualifies for a requested segment; null when a row is not described by the index.</summary>
    internal bool? TryDecide<T>(List<T> rows) where T : IStoredFragment
    {
        _identity = null;
        foreach (var row in rows)
            if (row.Memberships is null) return null;
        _decided.Clear();
        for (int segment = 0; segment < selection.SegmentCount; segment++)
        {
            int statusRow = -1, timeRow = -1;
            ReadOnlySpan<byte> status = default;
            DateTimeOffset? time = null;
            for (int r = 0; r < rows.Count; r++)
            {
                foreach (var entry in new MembershipIndex.Entries(rows[r].Memberships!.Value.Span))
                {
                    if (!selection.Names(segment, entry.Namespace, entry.Segment)) continue;
                    if (entry.HasStatus && (statusRow < 0 || Outranks(rows, r, statusRow)))
                    {
                        statusRow = r;
                        status = entry.Status;
                    }
                    if (entry.HasTime && (timeRow < 0 || Outranks(rows, r, timeRow)))
                    {
                        timeRow = r;
                        time = entry.Time;
                    }
                }
            }
            if (statusRow >= 0 && selection.Qualifies(segment, status, time)) _decided.Add(segment);
        }
        if (_decided.Count == 0) return false;
        // Only now: an identity left out has its id compared, never made a string.
        _identity = new Identity(rows[0].IdentityNamespace, rows[0].IdentityId);
        return true;
    }

    /// <summary>
    /// Gives back, from the index, <c>segmentMembership</c> to each row that has an index entry and not the member: a
    /// row of a row group the read decoded without it (<see cref="MemberSelection.Indexed"/>), so that an identity the
    /// index could not decide (another of its rows is not described) is parsed with all its memberships.
    /// </summary>
    internal static void Restore(List<FragmentRow> rows)
    {
        for (int r = 0; r < rows.Count; r++)
        {
            var row = rows[r];
            if (row.Memberships is not { Length: > 0 } index || row.Record.IsWhole || row.Record.ValueOf(MembershipIndex.Member) is not null) continue;
            rows[r] = row with { Record = StoredRecord.OfMembers([.. row.Record.Members, new Member(MembershipIndex.Member, MembershipIndex.ToJson(index.Span))]) };
        }
    }

    /// <summary>
    /// Whether row <paramref name="a"/> merges over row <paramref name="b"/>: by the rule, then by batch and place in
    /// it, then by the read's order, as an identity's fragments are ordered oldest first and then folded by the rule.
    /// </summary>
    private bool Outranks<T>(List<T> rows, int a, int b) where T : IStoredFragment
    {
        var (x, y) = (rows[a], rows[b]);
        int order = rule.Compare(x.DatasetId, x.IngestTimeMs, y.DatasetId, y.IngestTimeMs);
        if (order == 0) order = string.CompareOrdinal(x.BatchId, y.BatchId);
        if (order == 0) order = x.Sequence.CompareTo(y.Sequence);
        return order != 0 ? order > 0 : a > b;
    }
}
