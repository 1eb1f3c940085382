using System.Runtime.InteropServices;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The members an identity's records repeat, met record by record in the order the merge folds them, so that a record
/// written to be parsed leaves out each member whose text is that of the last record before it with that member (most
/// often the identity's <c>identityMap</c>, which each of its records holds). The merge gives the same value without
/// it: with nothing between them holding the member, an object laid over the same object is that object, members and
/// order alike, a value over an equal value is that value, and a null over a null is none; and the member is first met
/// where it was, so the profile's members keep their order. A record kept whole hides what it holds: the members
/// before it are forgotten.
/// </summary>
internal sealed class RepeatedMembers
{
    /// <summary>By member name, the text of the last record met that has the member.</summary>
    private readonly Dictionary<string, ReadOnlyMemory<byte>> _last = new(StringComparer.Ordinal);
    private Member[] _kept = [];

    /// <summary>The members of the next record that are not repeated (valid until the next call).</summary>
    public ReadOnlySpan<Member> Keep(ReadOnlySpan<Member> members)
    {
        if (_kept.Length < members.Length) _kept = new Member[members.Length];
        int count = 0;
        foreach (var member in members)
        {
            ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_last, member.Name.Text, out bool met);
            bool repeated = met && last.Span.SequenceEqual(member.Value.Span);
            last = member.Value;
            if (!repeated) _kept[count++] = member;
        }
        return _kept.AsSpan(0, count);
    }

    /// <summary>Forgets the records met: at a record kept whole, and before another identity's.</summary>
    public void Forget()
    {
        _last.Clear();
        Array.Clear(_kept);
    }
}
