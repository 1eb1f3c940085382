using System.Buffers;
using System.Globalization;
using System.Text;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Service.Tests;

public sealed class MembershipIndexTests
{
    private static (bool Described, List<string> Entries) Index(string record) => Index(record, out _);

    private static (bool Described, List<string> Entries) Index(string record, out byte[] index)
    {
        var into = new ArrayBufferWriter<byte>();
        index = [];
        if (!MembershipIndex.TryWrite(StoredRecord.Split(Encoding.UTF8.GetBytes(record)), into)) return (false, []);
        index = into.WrittenSpan.ToArray();
        var entries = new List<string>();
        foreach (var entry in new MembershipIndex.Entries(into.WrittenSpan))
            entries.Add(string.Join("|", Encoding.UTF8.GetString(entry.Namespace), Encoding.UTF8.GetString(entry.Segment),
                entry.HasStatus ? Encoding.UTF8.GetString(entry.Status) : "-", !entry.HasTime ? "-" : entry.Time?.ToString("o", CultureInfo.InvariantCulture) ?? "not a date-time"));
        return (true, entries);
    }

    [Fact]
    public void A_record_s_index_holds_the_entries_with_a_status_or_a_time_and_stands_for_nothing_it_cannot_describe()
    {
        var (described, entries) = Index("""
            {"a":1,"segmentMembership":{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-02T04:04:05.1234567+01:00","x":[{"status":1}]},
             "s2":{"status":null},"s3":null,"s4":{"lastQualificationTime":"2026-02-01T00:00:00Z"},"s5":{"status":"pending","lastQualificationTime":"yesterday"}},
             "none":null,"aam":{"s9":{"status":"exited"}}}}
            """, out var index);
        Assert.True(described);
        Assert.Equal(["ups|s1|realized|2026-01-02T03:04:05.1234567+00:00", "ups|s4|-|2026-02-01T00:00:00.0000000+00:00", "ups|s5|pending|not a date-time",
            "aam|s9|exited|-"], entries);
        // What a read gives back for a row it decoded without the member: the entries, as a membership (the same instants).
        Assert.Equal("""{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-02T03:04:05.1234567Z"},"s4":{"lastQualificationTime":"2026-02-01T00:00:00.0000000Z"},"s5":{"status":"pending","lastQualificationTime":""}},"aam":{"s9":{"status":"exited"}}}""",
            Encoding.UTF8.GetString(MembershipIndex.ToJson(index)));
        foreach (var empty in new[] { """{"a":1}""", """{"segmentMembership":null}""", """{"segmentMembership":{}}""" })
        {
            Assert.True(Index(empty).Described, empty);
            Assert.Empty(Index(empty).Entries);
        }
        foreach (var unfit in new[]
        {
            """{"segmentMembership":[]}""", """{"segmentMembership":"x"}""", """{"segmentMembership":{"ups":[]}}""",
            """{"segmentMembership":{"ups":{"s1":"realized"}}}""", """{"segmentMembership":{"ups":{"s1":{"status":1}}}}""",
            """{"segmentMembership":{"ups":{"s1":{"lastQualificationTime":{}}}}}""",
            """{"segmentMembership":{"ups":{},"ups":{}}}""", """{"segmentMembership":{"ups":{"s1":{},"s1":null}}}""",
            """{"segmentMembership":{"ups":{"s1":{"status":"realized","status":"exited"}}}}""",
            """{"segmentMembership":{"u\u0070s":{"s1":{"status":"realized"}}}}""", """{"segmentMembership":{"ups":{"s1":{"status":"re\u0061lized"}}}}""",
            """{"segmentMembership":{"ups":{"s1":{"status":"a"}}},"segmentMembership":null}""", // a name repeated: the record is kept whole
            "{\"segmentMembership\":{\"ups\":{\"" + new string('s', MembershipIndex.MaxText + 1) + "\":{\"status\":\"realized\"}}}}",
        })
            Assert.False(Index(unfit).Described, unfit);
    }

    /// <summary>The memberships of the random records below: fit for the index, or, unless <paramref name="fit"/>, not (each sixth).</summary>
    private static string Membership(Random random, bool fit)
    {
        string[] statuses = ["realized", "existing", "exited", "unknown"];
        string[] times = ["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-01-31T23:59:59.9999999-00:01", "2026-03-01T01:00:00+01:00", "soon"];
        string Entry() => random.Next(4) switch
        {
            0 => $$"""{"status":"{{statuses[random.Next(4)]}}","lastQualificationTime":"{{times[random.Next(times.Length)]}}"}""",
            1 => $$"""{"status":"{{statuses[random.Next(4)]}}"}""",
            2 => $$"""{"status":null,"lastQualificationTime":"2026-0{{random.Next(1, 4)}}-01T00:00:00Z"}""",
            _ => "null",
        };
        if (!fit && random.Next(6) == 0)
            return random.Next(3) switch { 0 => """{"ups":{"s1":"realized"}}""", 1 => """{"ups":{"s1":{"status":7}}}""", _ => """{"ups":[]}""" };
        var namespaces = new[] { "ups", "aam" }.Where(_ => random.Next(3) > 0)
            .Select(ns => $$"""
                "{{ns}}":{{(random.Next(8) == 0 ? "null" : "{" + string.Join(",", new[] { "s1", "s2" }.Where(_ => random.Next(3) > 0).Select(s => $"\"{s}\":{Entry()}")) + "}")}}
                """);
        return "{" + string.Join(",", namespaces) + "}";
    }

    [Fact]
    public async Task Segments_decided_from_the_index_are_those_the_merged_profiles_qualify_for_under_either_rule_before_and_after_compaction()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 2)));
        var store = harness.Get<ProfileStore>();
        var random = new Random(20261203);
        // Batches of two datasets and of segment evaluation, two of them at the same ingest time (ordered by batch id).
        var batches = new[] { ("dsA", "b1", 1_000L), ("dsB", "b2", 2_000L), (SegmentEvaluation.MembershipDatasetId, "b3", 3_000L), ("dsA", "b5", 4_000L), ("dsB", "b4", 4_000L) };
        foreach (var (dataset, batch, time) in batches)
        {
            // About 2.4 row groups of rows a batch: the first identities' records (more than a group's rows) are all
            // described by the index, so their row groups are read without the member.
            var records = Enumerable.Range(0, FragmentColumns.RowGroupSize * 18 / 5).Where(_ => random.Next(3) > 0).Select(i =>
            {
                bool fit = i < FragmentColumns.RowGroupSize * 9 / 5;
                string json = random.Next(5) switch
                {
                    0 => """{"name":"n"}""",
                    1 when !fit => $$"""{"name":"n","segmentMembership":{{Membership(random, fit)}},"name":"whole"}""",
                    _ => $$"""{"segmentMembership":{{Membership(random, fit)}},"name":"{{batch}}"}""",
                };
                return (new Identity("email", $"u{i:D4}"), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(json));
            }).ToList();
            await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, dataset, batch, time, records, default);
        }

        var rules = new[] { MergeRule.TimestampOrdered, MergeRule.Of(new AttributeMerge { Type = MergePolicyRules.DataSetPrecedence, Order = ["dsB", "dsA"] }) };
        var filters = new[]
        {
            new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }] },
            new JobFilter { Segments = [new SegmentSelector { SegmentId = "s2", Status = ["existing", "exited"] }, new SegmentSelector { SegmentId = "s1", SegmentNs = "aam" }] },
            new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }], SegmentQualificationTime = new QualificationWindow { StartTime = "2026-02-01T00:00:00Z" } },
            new JobFilter
            {
                Segments = [new SegmentSelector { SegmentId = "s1", Status = ["realized", "existing"] }],
                SegmentQualificationTime = new QualificationWindow { StartTime = "2026-01-01T00:00:00.0000001Z", EndTime = "2026-02-01T00:00:59.9999999Z" },
            },
        };
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var rule in rules)
                foreach (var filter in filters)
                {
                    var selection = new ExportSelection(filter);
                    var expected = new List<string>();
                    var matches = new List<int>();
                    await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
                        if (selection.Includes(rule.Merge(identity, fragments), matches)) expected.Add($"{identity.Id}:{string.Join(",", matches)}");

                    var index = new IndexedSegmentFilter(selection, rule);
                    var prefilter = new MemberPrefilter(ExportSelection.SegmentMembership, selection.CouldQualify, index);
                    var members = new MemberSelection(new HashSet<string> { "name", ExportSelection.SegmentMembership }, Indexed: ExportSelection.SegmentMembership);
                    var actual = new List<string>();
                    int decided = 0, unread = 0;
                    await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: members, prefilter: prefilter))
                    {
                        var profile = rule.Merge(identity, fragments);
                        bool included = index.DecidedFor(identity) is { } segments ? selection.Includes(profile, matches, segments) : selection.Includes(profile, matches);
                        if (index.DecidedFor(identity) is not null) decided++;
                        if (fragments.All(f => !f.Record.TryGetProperty(ExportSelection.SegmentMembership, out _))) unread++;
                        if (included) actual.Add($"{identity.Id}:{string.Join(",", matches)}");
                    }
                    Assert.Equal(expected, actual);
                    Assert.NotEmpty(expected);
                    // The index decided some identities, and the member was not decoded for some (row groups the index describes whole).
                    Assert.InRange(decided, 1, expected.Count);
                    Assert.True(unread > 0, "some row groups are read without the member");
                }
            if (pass == 0) Assert.True((await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged > 0);
        }
    }

    [Fact]
    public async Task An_identity_with_a_row_the_index_does_not_describe_is_parsed_with_the_memberships_of_its_rows_read_without_the_member()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 8)));
        var store = harness.Get<ProfileStore>();
        static (Identity, ReadOnlyMemory<byte>) Record(int i, string json) => (new Identity("email", $"u{i:D3}"), Encoding.UTF8.GetBytes(json));
        // Every row of the first batch is described: its row groups are read without the member. Of the second,
        // u010's record is kept whole (a repeated name) and u012's membership is not an object where an entry is expected.
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "b1", 1_000, Enumerable.Range(0, 300).Select(i => Record(i, i % 2 == 1 ? """{"name":"x"}"""
            : """{"segmentMembership":{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}}},"name":"x"}""")), default);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "b2", 2_000,
            [Record(10, """{"name":"a","name":"b"}"""), Record(11, """{"name":"a","name":"b"}"""), Record(12, """{"segmentMembership":{"ups":{"s1":"realized"}}}""")], default);

        var selection = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }] });
        var index = new IndexedSegmentFilter(selection, MergeRule.TimestampOrdered);
        var members = new MemberSelection(new HashSet<string> { "name", ExportSelection.SegmentMembership }, Indexed: ExportSelection.SegmentMembership);
        var included = new List<int>();
        var matches = new List<int>();
        var readWithout = new List<int>();
        await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: members,
            prefilter: new MemberPrefilter(ExportSelection.SegmentMembership, selection.CouldQualify, index)))
        {
            var profile = MergeRule.TimestampOrdered.Merge(identity, fragments);
            if (index.DecidedFor(identity) is null) readWithout.Add(int.Parse(identity.Id[1..]));
            if (index.DecidedFor(identity) is { } decided ? selection.Includes(profile, matches, decided) : selection.Includes(profile, matches))
                included.Add(int.Parse(identity.Id[1..]));
        }
        Assert.Equal(Enumerable.Range(0, 300).Where(i => i % 2 == 0 && i != 12), included);
        // u010 and u012 were not decided by the index; u010 qualifies by the membership given back from it.
        Assert.Equal([10, 12], readWithout);
    }
}
