namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Which identities a shard read yields, decided from one top-level member of their records before any record is put
/// together or parsed: an identity is yielded when, for at least one of its fragments, <c>couldKeep</c> holds for that
/// member's JSON text (a fragment without the member does not count). The caller's own check of the merged profile must
/// imply it (a segment-filtered export: <see cref="Core.Jobs.ExportSelection.CouldQualify"/>), so that what the read
/// leaves out is what that check would have left out.
/// </summary>
public sealed class MemberPrefilter(string member, MemberPrefilter.Test couldKeep)
{
    public delegate bool Test(ReadOnlySpan<byte> value);

    public string Member { get; } = member;

    internal bool AnyKeeps(List<FragmentRow> rows)
    {
        foreach (var row in rows)
            if (row.Record.AnyMember(Member, couldKeep)) return true;
        return false;
    }
}
