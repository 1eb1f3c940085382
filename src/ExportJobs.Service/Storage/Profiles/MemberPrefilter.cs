using System.Text.Json;

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
            if (Keeps(row.Record)) return true;
        return false;
    }

    private bool Keeps(StoredRecord record)
    {
        if (record.IsWhole) return WholeKeeps(record.ToJson().Span);
        foreach (var member in record.Members)
            if (member.Name.Text == Member && couldKeep(member.Value.Span)) return true;
        return false;
    }

    /// <summary>A record kept whole: each of its members of that name is tested; a record that is not an object is not left out here.</summary>
    private bool WholeKeeps(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return true;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool named = reader.ValueTextEquals(Member);
            reader.Read();
            int start = (int)reader.TokenStartIndex;
            reader.Skip();
            if (named && couldKeep(json[start..(int)reader.BytesConsumed])) return true;
        }
        return false;
    }
}
