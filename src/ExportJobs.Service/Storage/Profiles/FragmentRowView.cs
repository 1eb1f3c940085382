using System.Buffers;
using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// A row of a fragment file read in place, in its row group's columns: nothing is made of it until it is asked for. It
/// stays valid until its reader moves on from the first row of the next row group with rows the read keeps: a shard's
/// read decides on an identity's rows before any run they came from has moved past the row after them, and makes rows
/// of their own of an identity's rows that go on into another row group as the second group's first row comes.
/// </summary>
internal readonly struct FragmentRowView(FragmentFileReader file, GroupValues group, int row) : IStoredFragment
{
    public string IdentityNamespace => group.Namespaces[row]!;
    public string IdentityId => group.IdAt(row);
    /// <summary>The identity id's UTF-8, which the read compares without making its string (<see cref="IdentityKey.CompareIds"/>).</summary>
    public ReadOnlyMemory<byte> IdBytes => group.IdBytes[row]!.Value;
    public long IngestTimeMs => group.IngestTimes[row];
    public string DatasetId => group.Datasets[row]!;
    public string BatchId => group.Batches[row]!;
    public long Sequence => group.Sequences[row];
    public ReadOnlyMemory<byte>? Memberships => group.Memberships[row];
    public void AppendJsonTo(ArrayBufferWriter<byte> text, RepeatedMembers? repeated) => file.AppendJsonAt(group, row, text, repeated);

    /// <summary>Whether <paramref name="other"/> is a row of the same identity.</summary>
    public bool SameIdentityAs(FragmentRowView other) =>
        string.Equals(IdentityNamespace, other.IdentityNamespace, StringComparison.Ordinal) && IdBytes.Span.SequenceEqual(other.IdBytes.Span);

    /// <summary>Whether <paramref name="other"/> is read in the same columns as this row (of the same reader, in the same row group).</summary>
    public bool InGroupOf(FragmentRowView other) => ReferenceEquals(group, other.Group);

    private GroupValues Group => group;

    /// <summary>The row made into one of its own.</summary>
    public FragmentRow ToRow() => file.RowAt(group, row);

    public ProfileFragment ToFragment(Identity identity, JsonElement record) => new(identity, IngestTimeMs, DatasetId, BatchId, record, Sequence);
}
