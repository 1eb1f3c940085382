using ExportJobs.Core.Profiles;
using ExportJobs.Service.Identities;

namespace ExportJobs.Service.Tests;

/// <summary>Identities held as UTF-8 with their values, found by hash, answer as a dictionary of them would.</summary>
public class IdentityTableTests
{
    /// <summary>Identities that differ only where a careless encoding would join them, ids of every length and script.</summary>
    private static readonly (Identity Identity, Identity Primary)[] Pairs =
    [
        (new("ECID", "c1"), new("CRMID", "crm1")),
        (new("Email", "p1@example.com"), new("CRMID", "crm1")),
        (new("ECID", "a\u0001b"), new("CRMID", "crm2")),
        (new("ECID\u0001a", "b"), new("CRMID", "crm3")),
        (new("ECID", "é\"ü漢字"), new("Phone", "+1 555 0100")),
        (new("ECID", ""), new("CRMID", "empty-id")),
        (new("", "no-namespace"), new("CRMID", "crm4")),
        (new("ECID", new string('x', 700)), new("CRMID", new string('y', 700))),
        .. Enumerable.Range(0, 300).Select(i => (new Identity($"ns{i % 7}", $"id{i}"), new Identity("CRMID", $"p{i / 3}"))),
    ];

    /// <summary>Identities not added: an unknown namespace, a known namespace with an unknown id, near misses.</summary>
    private static readonly Identity[] Absent = [new("Nope", "c1"), new("ECID", "c2"), new("ECID", "a"), new("ECID\u0001a", "c"), new("ECID", "x"), new("CRMID", "crm1")];

    [Fact]
    public void Each_identity_finds_its_primary_and_no_other_is_found() => AssertHolds(new IdentityTable(bytes: 1));

    [Fact]
    public void A_table_sized_for_its_rows_and_one_sized_for_far_fewer_hold_the_same()
    {
        AssertHolds(new IdentityTable(bytes: 64 * 1024, rows: Pairs.Length));
        AssertHolds(new IdentityTable(bytes: 1, rows: 3));
    }

    [Fact]
    public void A_folders_rows_are_estimated_a_tenth_over_its_first_files_rows_per_byte()
    {
        var buffer = new byte[100];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(buffer, 20);
        using var file = new GraphFiles.PooledFile(buffer, 100);
        Assert.Equal(220, file.RowsIn(folderBytes: 1000));
        using var empty = new GraphFiles.PooledFile(new byte[2], 2);
        Assert.Equal(0, empty.RowsIn(folderBytes: 1000));
    }

    [Fact]
    public void Identities_of_one_hash_are_told_apart_by_their_bytes() => AssertHolds(new IdentityTable(_ => 42));

    [Fact]
    public void Identities_whose_hashes_share_their_low_bits_are_each_found() =>
        AssertHolds(new IdentityTable(key => (long)System.IO.Hashing.XxHash64.HashToUInt64(key) << 40));

    [Fact]
    public void Identities_whose_hashes_share_their_high_bits_are_each_found() =>
        AssertHolds(new IdentityTable(key => (long)(System.IO.Hashing.XxHash64.HashToUInt64(key) & 0xFFFF_FFFF)));

    [Fact]
    public void An_identity_added_again_takes_the_newer_primary()
    {
        var moved = new IdentityTable(_ => 7);
        moved.AddPrimary(new("ECID", "c1"), new("CRMID", "old"));
        moved.AddPrimary(new("ECID", "c2"), new("CRMID", "other"));
        moved.AddPrimary(new("ECID", "c1"), new("CRMID", "new"));
        Assert.Equal(2, moved.Count);
        Assert.Equal(new Identity("CRMID", "new"), moved.PrimaryOf("ECID", "c1"));
        Assert.Equal(new Identity("CRMID", "other"), moved.PrimaryOf("ECID", "c2"));
    }

    [Fact]
    public void Bytes_added_with_an_identity_come_back_as_they_were_whatever_the_hash()
    {
        foreach (var table in new[] { new IdentityTable(), new IdentityTable(_ => 3) })
        {
            for (int i = 0; i < Pairs.Length; i++) table.AddValue(Pairs[i].Identity, System.Text.Encoding.UTF8.GetBytes($"{{\"record\":{i}}}"));
            for (int i = 0; i < Pairs.Length; i++)
            {
                Assert.True(table.TryGetValue(Pairs[i].Identity.Namespace, Pairs[i].Identity.Id, out var value));
                Assert.Equal($"{{\"record\":{i}}}", System.Text.Encoding.UTF8.GetString(value.Span));
            }
            Assert.All(Absent, identity => Assert.False(table.TryGetValue(identity.Namespace, identity.Id, out _)));
        }
    }

    [Fact]
    public void A_table_on_the_arrays_a_disposed_table_gave_back_holds_only_its_own_identities()
    {
        for (int round = 0; round < 3; round++)
        {
            using var table = new IdentityTable(bytes: 1);
            var own = Enumerable.Range(0, 5_000).Select(i => (Identity: new Identity("ECID", $"r{round}-{i}"), Primary: new Identity("CRMID", $"p{round}-{i}"))).ToList();
            foreach (var (identity, primary) in own) table.AddPrimary(identity, primary);
            Assert.Equal(own.Count, table.Count);
            Assert.All(own, pair => Assert.Equal(pair.Primary, table.PrimaryOf(pair.Identity.Namespace, pair.Identity.Id)));
            // The rounds before wrote these arrays: none of their identities is found.
            Assert.All(Enumerable.Range(0, round), before => Assert.False(table.Contains("ECID", $"r{before}-7")));
        }
    }

    private static void AssertHolds(IdentityTable moved)
    {
        foreach (var (identity, primary) in Pairs) moved.AddPrimary(identity, primary);
        Assert.Equal(Pairs.Length, moved.Count);
        foreach (var (identity, primary) in Pairs)
        {
            Assert.True(moved.Contains(identity.Namespace, identity.Id), identity.ToString());
            Assert.Equal(primary, moved.PrimaryOf(identity.Namespace, identity.Id));
        }
        // The namespaces of the identities added, not of their primaries (CRMID is a key's only in the table's values).
        Assert.All(Pairs, pair => Assert.True(moved.HoldsAnyOf(pair.Identity.Namespace)));
        Assert.All(new[] { "CRMID", "Phone", "Nope", "ECID\u0001", "ecid" }, ns => Assert.False(moved.HoldsAnyOf(ns), ns));
        foreach (var identity in Absent)
        {
            Assert.False(moved.Contains(identity.Namespace, identity.Id), identity.ToString());
            Assert.Throws<KeyNotFoundException>(() => moved.PrimaryOf(identity.Namespace, identity.Id));
        }
    }
}

/// <summary>The tables' additions of identities as the tests hold them (the service adds them as a build's files hold them, UTF-8).</summary>
internal static class IdentityTableAdditions
{
    public static void AddPrimary(this IdentityTable table, Identity identity, Identity primary) =>
        table.AddPrimary(identity.Namespace, System.Text.Encoding.UTF8.GetBytes(identity.Id), primary.Namespace, System.Text.Encoding.UTF8.GetBytes(primary.Id));

    public static void AddValue(this IdentityTable table, Identity identity, ReadOnlySpan<byte> value) =>
        table.AddValue(identity.Namespace, System.Text.Encoding.UTF8.GetBytes(identity.Id), value);
}
