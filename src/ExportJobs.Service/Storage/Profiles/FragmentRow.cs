using System.Buffers;
using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// One fragment as a row of a fragment file: identity, provenance, and the record (its members' JSON as UTF-8, parsed
/// as it is, never decoded to strings) — arrays of their own when read, slices of an ingestion's chunk buffer when written.
/// <c>Memberships</c>: the record's memberships index, when a read asked for it and the file holds it (null otherwise,
/// and when the index does not describe the record; a writer makes it from the record).
/// </summary>
internal sealed record FragmentRow(string IdentityNamespace, string IdentityId, long IngestTimeMs, string DatasetId, string BatchId, StoredRecord Record, long Sequence = 0,
    ReadOnlyMemory<byte>? Memberships = null) : IStoredFragment
{
    public void AppendJsonTo(ArrayBufferWriter<byte> text, RepeatedMembers? repeated) => Record.AppendJsonTo(text, repeated);

    /// <summary>Rows in the order of their identities' keys (<see cref="IdentityKey"/>).</summary>
    public static int CompareIdentities(FragmentRow a, FragmentRow b) => IdentityKey.Compare(a.IdentityNamespace, a.IdentityId, b.IdentityNamespace, b.IdentityId);

    /// <summary>The fragment of <paramref name="identity"/> (this row's), its record already parsed as <paramref name="record"/>.</summary>
    public ProfileFragment ToFragment(Identity identity, JsonElement record) => new(identity, IngestTimeMs, DatasetId, BatchId, record, Sequence);
}

/// <summary>
/// A fragment as a shard's read has it before it is parsed: a row of its own (<see cref="FragmentRow"/>) or a row read
/// in place (<see cref="FragmentRowView"/>). <c>Memberships</c>: as <see cref="FragmentRow"/> has it.
/// </summary>
internal interface IStoredFragment
{
    string IdentityNamespace { get; }
    string IdentityId { get; }
    long IngestTimeMs { get; }
    string DatasetId { get; }
    string BatchId { get; }
    long Sequence { get; }
    ReadOnlyMemory<byte>? Memberships { get; }

    /// <summary>Writes the record's JSON text after what <paramref name="text"/> holds; with <paramref name="repeated"/>, without the members it finds repeated.</summary>
    void AppendJsonTo(ArrayBufferWriter<byte> text, RepeatedMembers? repeated);

    /// <summary>The fragment of <paramref name="identity"/> (this row's), its record already parsed as <paramref name="record"/>.</summary>
    ProfileFragment ToFragment(Identity identity, JsonElement record);
}
