namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Which identities a shard read yields, decided from one top-level member of their records before any record is put
/// together or parsed: an identity is yielded when, for at least one of its fragments, <c>couldKeep</c> holds for that
/// member's JSON text (a fragment without the member does not count). The caller's own check of the merged profile must
/// imply it (a segment-filtered export: <see cref="Core.Jobs.ExportSelection.CouldQualify"/>), so that what the read
/// leaves out is what that check would have left out. With <c>index</c>, an identity whose rows the memberships index
/// all describes is decided by it, exactly (the caller takes the decision from <see cref="Index"/>), and the member
/// looked at only for the others.
/// </summary>
public sealed class MemberPrefilter(string member, MemberPrefilter.Test couldKeep, IndexedSegmentFilter? index = null)
{
    public delegate bool Test(ReadOnlySpan<byte> value);

    public string Member { get; } = member;

    public IndexedSegmentFilter? Index { get; } = index;

    /// <summary>The member a read decodes only where the memberships index does not stand for it (<see cref="MemberSelection.Indexed"/>); null without an index.</summary>
    public string? IndexedMember => Index is null ? null : Member;

    /// <summary>Whether an identity of rows the index does not decide for (or of any rows, without an index) is kept, from its records' member.</summary>
    internal bool KeepsUndecided(List<FragmentRow> rows)
    {
        if (Index is not null) IndexedSegmentFilter.Restore(rows);
        foreach (var row in rows)
            if (row.Record.AnyMember(Member, couldKeep)) return true;
        return false;
    }
}
