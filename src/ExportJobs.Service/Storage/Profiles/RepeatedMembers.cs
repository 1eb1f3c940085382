namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The members an identity's records repeat, met record by record in the order the merge folds them, so that a record
/// written to be parsed leaves out each member whose text is that of the last record before it with that member (most
/// often the identity's <c>identityMap</c>, which each of its records holds). The merge gives the same value without
/// it: with nothing between them holding the member, an object laid over the same object is that object, members and
/// order alike, a value over an equal value is that value, and a null over a null is none; and the member is first met
/// where it was, so the profile's members keep their order. A record kept whole hides what it holds: the members
/// before it are forgotten. The first <see cref="TrackedNames"/> names met are followed, and a member of another name
/// is kept, so that the work per member stays a short scan whatever the records hold.
/// </summary>
internal sealed class RepeatedMembers
{
    public const int TrackedNames = 32;

    /// <summary>The names followed, and for each the text of the last record met that has the member.</summary>
    private readonly MemberName[] _names = new MemberName[TrackedNames];
    private readonly ReadOnlyMemory<byte>[] _texts = new ReadOnlyMemory<byte>[TrackedNames];
    private int _count;
    private Member[] _kept = [];

    /// <summary>The members of the next record that are not repeated (valid until the next call).</summary>
    public ReadOnlySpan<Member> Keep(ReadOnlySpan<Member> members)
    {
        if (_kept.Length < members.Length) _kept = new Member[members.Length];
        int count = 0;
        foreach (var member in members)
        {
            int at = IndexOf(member.Name);
            if (at >= 0 && _texts[at].Span.SequenceEqual(member.Value.Span)) continue;
            if (at < 0 && _count < TrackedNames) _names[at = _count++] = member.Name;
            if (at >= 0) _texts[at] = member.Value;
            _kept[count++] = member;
        }
        return _kept.AsSpan(0, count);
    }

    private int IndexOf(MemberName name)
    {
        for (int i = 0; i < _count; i++)
            if (ReferenceEquals(_names[i], name) || _names[i].Text == name.Text) return i;
        return -1;
    }

    /// <summary>Forgets the records met: at a record kept whole, and before another identity's.</summary>
    public void Forget()
    {
        Array.Clear(_names, 0, _count);
        Array.Clear(_texts, 0, _count);
        _count = 0;
        Array.Clear(_kept);
    }
}
