using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Tests;

/// <summary>Fragment files keep each top-level member of a record in a column of its own, and a read decodes only the members it names.</summary>
public class FragmentColumnsTests
{
    private static readonly string Wide = "{" + string.Join(",", Enumerable.Range(0, FragmentColumns.MaxMembers + 1).Select(i => $"\"w{i}\":{i}")) + "}";
    private static readonly string LongName = "{\"a\":1,\"" + new string('n', FragmentColumns.MaxMemberName + 1) + "\":2}";

    /// <summary>Records of every shape: nested, null, odd and escaped names, repeated names, too many names and too long a name (kept whole), empty.</summary>
    private static readonly string[] Shapes =
    [
        """{"b":1,"a":{"x":[1,2],"y":"z"},"c":null}""",
        """{"a":"é\"q","weird.name":true,"":0,"b":[{"a":1}]}""",
        """{"a":1,"a":2,"b":3}""",
        "{}",
        Wide,
        """{"c":{"deep":{"er":"est"}},"a":false}""",
        """{"\u0061":[true],"weird.name":null}""",
        LongName,
    ];

    [Fact]
    public async Task Records_read_back_as_written_and_a_read_that_names_members_gets_only_those_in_the_records_order()
    {
        // With typed leaves: the nested objects among the records are written to leaves, and compacted from them.
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles, o.TypedLeaves) = (1, 2, true)));
        var store = harness.Get<ProfileStore>();
        var written = new Dictionary<(string Id, string Batch), string>();
        // Three batches whose files have different member names; each identity in two of them.
        for (int b = 0; b < 3; b++)
        {
            var records = Enumerable.Range(0, 600).Where(i => i % 3 != b)
                .Select(i => (Id: $"u{i:D4}", Json: Shapes[(i + b) % Shapes.Length].Replace("\"b\"", $"\"b{b}\"", StringComparison.Ordinal))).ToList();
            foreach (var (id, json) in records) written[(id, $"batch{b}")] = json;
            await WriteEmailRecordsAsync(harness, $"batch{b}", 1_000 + b, records);
        }

        // The files have a column per member name, first seen first, named in their metadata; records kept whole add none.
        Assert.Equal(["a", "weird.name", "", "b0", "c"], await MemberNamesAsync(harness, "batch0"));

        // Namespace, dataset and batch are integer columns, indexes into the values the file's metadata lists.
        Assert.Equal(new Dictionary<string, string[]> { ["IdentityNamespace"] = ["email"], ["DatasetId"] = ["ds"], ["BatchId"] = ["batch1"] },
            await IndexedValuesAsync(harness, "-batch1.parquet"));

        await AssertReadsAsync(store, harness, written);
        Assert.Equal(2, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        Assert.Equal(2, await store.CountLiveFilesAsync(FragmentKind.Profile, harness.Tenant, 0, default));
        // The compacted run names the two batches it merged (the two smallest files, whichever those are).
        var merged = (await IndexedValuesAsync(harness, ".00000.parquet"))["BatchId"];
        Assert.Equal(2, merged.Distinct().Count());
        Assert.Subset(new HashSet<string> { "batch0", "batch1", "batch2" }, merged.ToHashSet());
        await AssertReadsAsync(store, harness, written);
    }

    [Fact]
    public async Task Object_members_are_kept_in_typed_leaf_columns_and_read_back_as_written_with_a_value_that_does_not_fit_kept_as_text()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.TypedLeaves) = (1, true)));
        var store = harness.Get<ProfileStore>();
        const int Odd = 1500;
        var records = Enumerable.Range(0, 2500).Select(i => (Id: $"u{i:D4}", Json: i == Odd
            ? """{"identityMap":{"email":[{"id":"odd"}]},"person":{"age":"old","name":"n"}}"""
            : $$"""{"identityMap":{"email":[{"id":"u{{i}}"}]},"person":{"age":{{i}},{{(i % 3 == 0 ? "" : $"\"name\":\"n{i}\",")}}"vip":{{(i % 2 == 0 ? "true" : "false")}}},"tags":["a"]}""")).ToList();
        await WriteEmailRecordsAsync(harness, "typed", 1_000, records);

        // The identity map (a map by the system schema) and an array keep their text; the person's leaves have typed
        // columns, a leaf a value lacks a null in its column.
        await using (var reader = await ReaderOfAsync(harness, "-typed.parquet"))
        {
            var names = JsonSerializer.Deserialize<List<string>>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
            var shapes = FragmentColumns.ShapesOf(reader.CustomMetadata[FragmentColumns.LeavesKey], names.Count);
            int person = names.IndexOf("person");
            Assert.All(new[] { shapes[names.IndexOf("identityMap")], shapes[names.IndexOf("tags")] }, Assert.Null);
            Assert.Equal([("age", LeafKind.Integer), ("name", LeafKind.String), ("vip", LeafKind.Boolean)], shapes[person]!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
            var fields = reader.Schema.GetDataFields().ToDictionary(f => f.Name);
            Assert.Equal(typeof(long), fields[FragmentColumns.LeafColumn(person, 0)].ClrType);
            var ages = new List<long>();
            Assert.True(reader.RowGroupCount > 1);
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var values = new long?[group.RowCount];
                await group.ReadAsync<long>(fields[FragmentColumns.LeafColumn(person, 0)], values.AsMemory(), null, default);
                ages.AddRange(values.OfType<long>());
            }
            Assert.Equal(Enumerable.Range(0, 2500).Where(i => i != Odd).Select(i => (long)i), ages.Order());
        }

        var written = records.ToDictionary(r => r.Id, r => r.Json);
        foreach (var members in new MemberSelection?[] { null, new(new HashSet<string> { "person" }) })
        {
            int read = 0;
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: members))
            {
                var expected = MembersOf(written[identity.Id]).Where(m => members is null || members.Reads(m.Name));
                Assert.Equal(expected, MembersOf(Assert.Single(fragments).Record.GetRawText()));
                read++;
            }
            Assert.Equal(records.Count, read);
        }

        // A read for a field below the member decodes only the leaves the field touches; the value that does not fit keeps its text.
        var partly = new MemberSelection(new HashSet<string> { "person" }, Partly: new Dictionary<string, FieldProjection> { ["person"] = FieldProjection.Parse("person.name").Below("person")! });
        int cut = 0;
        await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: partly))
        {
            int i = int.Parse(identity.Id[1..]);
            string person = MembersOf(Assert.Single(fragments).Record.GetRawText()).Single(m => m.Name == "person").Value;
            Assert.Equal(i == Odd ? """{"age":"old","name":"n"}""" : i % 3 == 0 ? "{}" : $$"""{"name":"n{{i}}"}""", person);
            cut++;
        }
        Assert.Equal(records.Count, cut);

        // With typed leaves turned off (the default), a store writes none, and reads the files that have them.
        await using var plain = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        await plain.Get<ProfileStore>().WriteBatchAsync(FragmentKind.Profile, plain.Tenant, "ds", "plain", 2_000,
            records.Take(10).Select(r => (new Identity("email", r.Id), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Json))), default);
        await using (var reader = await ReaderOfAsync(plain, "-plain.parquet"))
            Assert.All(FragmentColumns.ShapesOf(reader.CustomMetadata[FragmentColumns.LeavesKey], 3), Assert.Null);
        var turnedOff = new ProfileStore(harness.Get<StorageClients>(), Microsoft.Extensions.Options.Options.Create(new ExportStorageOptions { ShardCount = 1 }),
            harness.Get<FragmentFileCache>());
        int again = 0;
        await foreach (var (identity, fragments) in turnedOff.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
        {
            Assert.Equal(MembersOf(written[identity.Id]), MembersOf(Assert.Single(fragments).Record.GetRawText()));
            again++;
        }
        Assert.Equal(records.Count, again);
    }

    [Fact]
    public async Task A_datasets_schema_declares_the_leaves_of_its_files_and_a_compaction_keeps_the_leaves_of_the_files_it_merges()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles, o.TypedLeaves) = (1, 2, true)));
        var store = harness.Get<ProfileStore>();
        var schema = SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{"loyalty":{"type":"object","properties":{
              "points":{"type":"number"},"since":{"type":"string","format":"date-time"},"tier":{"type":"string"},"codes":{"type":"array","items":{"type":"string"}}}}}}
            """), "schema", new Core.ProblemList())!;
        // The first row group's points are all integers, and none has a tier: inference alone makes an integer column and no tier.
        static string Loyalty(int i) => i < 1_000
            ? $$$"""{"loyalty":{"points":{{{i}}},"since":"2024-01-01T00:00:00Z"}}"""
            : $$$"""{"loyalty":{"points":{{{i}}}.5,"since":"2024-01-01T00:00:00Z","tier":"gold"}}""";
        var declared = Enumerable.Range(0, 2_000).Select(i => (Id: $"u{i:D4}", Json: Loyalty(i))).ToList();
        var inferred = Enumerable.Range(0, 2_000).Select(i => (Id: $"v{i:D4}", Json: Loyalty(i))).ToList();
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "declared", 1_000,
            declared.Select(r => (new Identity("email", r.Id), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Json))), default, schema: schema);
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "inferred", 2_000,
            inferred.Select(r => (new Identity("email", r.Id), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Json))), default);
        // A larger file, which a compaction down to two runs leaves as it is.
        var larger = Enumerable.Range(0, 3_000).Select(i => (Id: $"z{i:D4}", Json: $$"""{"note":"{{new string('n', 200)}}{{i}}"}""")).ToList();
        await store.WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", "larger", 3_000,
            larger.Select(r => (new Identity("email", r.Id), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Json))), default);

        (string, LeafKind)[] byTheSchema = [("points", LeafKind.Double), ("since", LeafKind.String), ("tier", LeafKind.String)];
        Assert.Equal(byTheSchema, await LeavesAsync("-declared.parquet"));
        Assert.Equal([("points", LeafKind.Integer), ("since", LeafKind.String)], await LeavesAsync("-inferred.parquet"));
        // Every value of the declared file fits its leaves; of the other, only the first thousand (the rest keep their text).
        Assert.Equal(2_000, await PointsAsync("-declared.parquet"));
        Assert.Equal(1_000, await PointsAsync("-inferred.parquet"));

        // The compacted run's first rows (u0000 on) hold integer points and no tier; it keeps the merged files' leaves.
        Assert.Equal(2, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        Assert.Equal(byTheSchema, await LeavesAsync(".00000.parquet"));
        Assert.Equal(4_000, await PointsAsync(".00000.parquet"));
        var written = declared.Concat(inferred).Concat(larger).ToDictionary(r => r.Id, r => r.Json);
        int read = 0;
        await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
        {
            Assert.Equal(MembersOf(written[identity.Id]), MembersOf(Assert.Single(fragments).Record.GetRawText()));
            read++;
        }
        Assert.Equal(written.Count, read);

        async Task<IEnumerable<(string, LeafKind)>> LeavesAsync(string nameEnd)
        {
            await using var reader = await ReaderOfAsync(harness, nameEnd);
            var names = JsonSerializer.Deserialize<List<string>>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
            var shape = FragmentColumns.ShapesOf(reader.CustomMetadata[FragmentColumns.LeavesKey], names.Count)[names.IndexOf("loyalty")]!;
            return shape.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)).ToList();
        }

        // The values in the column of the points leaf (the first of the loyalty member's).
        async Task<int> PointsAsync(string nameEnd)
        {
            await using var reader = await ReaderOfAsync(harness, nameEnd);
            var names = JsonSerializer.Deserialize<List<string>>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
            var field = reader.Schema.GetDataFields().Single(f => f.Name == FragmentColumns.LeafColumn(names.IndexOf("loyalty"), 0));
            int points = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                if (field.ClrType == typeof(long))
                {
                    var integers = new long?[group.RowCount];
                    await group.ReadAsync<long>(field, integers.AsMemory(), null, default);
                    points += integers.Count(v => v is not null);
                }
                else
                {
                    var numbers = new double?[group.RowCount];
                    await group.ReadAsync<double>(field, numbers.AsMemory(), null, default);
                    points += numbers.Count(v => v is not null);
                }
            }
            return points;
        }
    }

    [Fact]
    public async Task A_fragment_file_of_an_earlier_build_with_the_whole_record_in_one_column_reads_and_compacts_as_before()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 2)));
        var store = harness.Get<ProfileStore>();
        var written = new Dictionary<(string Id, string Batch), string>();
        for (int i = 0; i < 300; i++) written[($"u{i:D4}", "old")] = Shapes[i % Shapes.Length];
        await UploadEarlierBuildFileAsync(harness, "old", 1_000, written);
        var newer = Enumerable.Range(0, 300).Where(i => i % 2 == 0).Select(i => (Id: $"u{i:D4}", Json: """{"a":"new","z":1}""")).ToList();
        foreach (var (id, json) in newer) written[(id, "new")] = json;
        await WriteEmailRecordsAsync(harness, "new", 2_000, newer);

        await AssertReadsAsync(store, harness, written);
        // A third batch puts the shard over its bound: its two smallest runs merge, the file of the earlier build among them.
        var third = Enumerable.Range(0, 300).Where(i => i % 5 == 0).Select(i => (Id: $"u{i:D4}", Json: """{"weird.name":5}""")).ToList();
        foreach (var (id, json) in third) written[(id, "third")] = json;
        await WriteEmailRecordsAsync(harness, "third", 3_000, third);
        Assert.Equal(2, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        await AssertReadsAsync(store, harness, written);
    }

    [Fact]
    public async Task An_identitys_records_read_as_one_document_each_as_written_however_deep_a_record_may_be()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        // As deep as a document parsed alone may be: read in an array of the identity's records, one level deeper.
        string deep = string.Concat(Enumerable.Repeat("{\"a\":", 63)) + "{}" + new string('}', 63);
        using (JsonDocument.Parse(deep)) { }
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse("[" + deep + "]"));
        var written = new Dictionary<(string Id, string Batch), string>();
        for (int b = 0; b < 3; b++)
        {
            var records = new[] { ("u1", b == 1 ? deep : $$"""{"b":{{b}}}"""), ("u2", Shapes[b]) };
            foreach (var (id, json) in records) written[(id, $"batch{b}")] = json;
            await WriteEmailRecordsAsync(harness, $"batch{b}", 1_000 + b, records);
        }
        var read = new List<(string Id, string Batch, string Json)>();
        await foreach (var (identity, fragments) in harness.Get<ProfileStore>().ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default))
            read.AddRange(fragments.Select(f => (identity.Id, f.BatchId, f.Record.GetRawText())));
        Assert.Equal(written.OrderBy(w => w.Key.Id).ThenBy(w => w.Key.Batch).Select(w => (w.Key.Id, w.Key.Batch, w.Value)), read);
    }

    [Fact]
    public async Task A_file_is_written_in_row_groups_of_the_rows_its_writer_is_given()
    {
        var rows = Enumerable.Range(0, FragmentColumns.RowGroupSize + 7)
            .Select(i => new FragmentRow("email", $"u{i:D5}", 1_000, "ds", "b", StoredRecord.Split(Encoding.UTF8.GetBytes($$"""{"i":{{i}}}""")))).ToList();
        foreach (int groupRows in new[] { FragmentColumns.RowGroupSize, FragmentColumns.RoutedRowGroupSize })
        {
            using var file = new MemoryStream();
            await ProfileStore.WriteFileAsync(file, rows, default, groupRows);
            file.Position = 0;
            await using var reader = await ParquetReader.CreateAsync(file);
            var sizes = Enumerable.Range(0, reader.RowGroupCount).Select(g =>
            {
                using var group = reader.OpenRowGroupReader(g);
                return (int)group.RowCount;
            }).ToList();
            Assert.Equal(Enumerable.Repeat(groupRows, rows.Count / groupRows).Append(rows.Count % groupRows), sizes);
        }
    }

    [Fact]
    public async Task Files_are_written_packed_and_a_file_of_the_build_before_with_a_value_per_row_reads_and_compacts_as_before()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 2)));
        var store = harness.Get<ProfileStore>();
        var written = new Dictionary<(string Id, string Batch), string>();
        for (int i = 0; i < 600; i++) written[($"u{i:D4}", "perrow")] = Shapes[i % Shapes.Length];
        await UploadPerRowFileAsync(harness, "perrow", 1_000, written);
        var newer = Enumerable.Range(0, 1_500).Select(i => (Id: $"u{i:D4}", Json: Shapes[(i + 1) % Shapes.Length])).ToList();
        foreach (var (id, json) in newer) written[(id, "new")] = json;
        await WriteEmailRecordsAsync(harness, "new", 2_000, newer);

        // The service's file holds packs: a row group's identity ids (UTF-8), and its values of a member column, in one
        // value at its first row.
        await using (var reader = await ReaderOfAsync(harness, "-new.parquet"))
        {
            Assert.Equal("1", reader.CustomMetadata[FragmentColumns.PackedKey]);
            using var group = reader.OpenRowGroupReader(0);
            Assert.Equal(FragmentColumns.RowGroupSize, group.RowCount);
            foreach (string name in new[] { FragmentColumns.Id, FragmentColumns.MemberColumn(0) })
            {
                var column = reader.Schema.GetDataFields().First(f => f.Name == name);
                Assert.Contains(column.ClrType, new[] { typeof(byte[]), typeof(ReadOnlyMemory<byte>) });
                var levels = new int[group.RowCount];
                await group.ReadRawAsync<ReadOnlyMemory<byte>>(column, new ReadOnlyMemory<byte>[group.RowCount], levels.AsMemory(), null);
                Assert.Equal([1, .. Enumerable.Repeat(0, levels.Length - 1)], levels);
            }
        }

        await AssertReadsAsync(store, harness, written);
        var third = Enumerable.Range(0, 600).Where(i => i % 5 == 0).Select(i => (Id: $"u{i:D4}", Json: """{"weird.name":5}""")).ToList();
        foreach (var (id, json) in third) written[(id, "third")] = json;
        await WriteEmailRecordsAsync(harness, "third", 3_000, third);
        // The two smallest runs merge: the file of the build before and the third batch's.
        Assert.Equal(2, (await harness.Get<ShardCompactor>().CompactShardAsync(FragmentKind.Profile, harness.Tenant, 0, CompactionTrigger.BeforeRead, default)).Merged);
        Assert.Equal(["perrow", "third"], (await IndexedValuesAsync(harness, ".00000.parquet"))["BatchId"].Order());
        await AssertReadsAsync(store, harness, written);
    }

    /// <summary>
    /// A prefiltered read yields the identities with a fragment whose member passes the test — in a file of an earlier
    /// build, kept whole for a repeated name, or in a member column — each with all its fragments, and no other.
    /// </summary>
    [Fact]
    public async Task A_prefiltered_read_yields_exactly_the_identities_a_fragment_of_which_passes_with_all_their_fragments()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => (o.ShardCount, o.MaxShardFiles) = (1, 8)));
        var store = harness.Get<ProfileStore>();
        var written = new Dictionary<(string Id, string Batch), string>();
        for (int i = 0; i < 700; i++)
        {
            written[($"u{i:D4}", "old")] = i % 7 == 0 ? """{"b":0,"a":"keep"}""" : """{"a":"drop"}""";
            written[($"u{i:D4}", "columns")] = i % 3 == 0 ? """{"a":"keep","b":1}""" : """{"b":2,"a":"drop"}""";
            if (i % 2 == 0) written[($"u{i:D4}", "whole")] = i % 5 == 0 ? """{"a":"drop","b":3,"a":"keep"}""" : """{"b":3}""";
        }
        await UploadEarlierBuildFileAsync(harness, "old", 1_000, written);
        foreach (var (batch, time) in new[] { ("columns", 2_000L), ("whole", 3_000L) })
            await WriteEmailRecordsAsync(harness, batch, time, written.Where(r => r.Key.Batch == batch).Select(r => (r.Key.Id, r.Value)));

        var keep = new MemberPrefilter("a", value => value.SequenceEqual("\"keep\""u8));
        var yielded = new List<string>();
        await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: new(new HashSet<string> { "a" }), prefilter: keep))
        {
            yielded.Add(identity.Id);
            Assert.Equal(written.Keys.Where(k => k.Id == identity.Id).Select(k => k.Batch).Order(), fragments.Select(f => f.BatchId).Order());
        }
        Assert.Equal(Enumerable.Range(0, 700).Where(i => i % 7 == 0 || i % 3 == 0 || i % 10 == 0).Select(i => $"u{i:D4}"), yielded);

        await Assert.ThrowsAsync<ArgumentException>(async () =>
        {
            await foreach (var _ in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: new(new HashSet<string> { "b" }), prefilter: keep)) { }
        });
    }

    [Fact]
    public void An_export_reads_the_members_its_fields_filter_and_segments_name_and_every_member_when_it_exports_all_or_a_segment_reads_the_profile_whole()
    {
        var segments = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }] });
        var everyone = new ExportSelection(null);
        var fields = FieldProjection.Parse("identityMap,personalEmail.address,person.name.lastName");
        SegmentEvaluation Evaluating(string pql) => SegmentEvaluation.Compile(new Dictionary<string, string> { ["s1"] = pql }, DateTimeOffset.UtcNow);

        Assert.Equal(["identityMap", "person", "personalEmail", "segmentMembership"], ShardExporter.MembersRead(fields, segments, null)!.Order());
        // Of those, the fields alone read parts of two: a read takes only the leaves they touch. The filter's member, and
        // one the fields keep whole, are read whole.
        var partly = ShardExporter.PartlyRead(fields, segments, null)!;
        Assert.Equal(["person", "personalEmail"], partly.Keys.Order());
        Assert.True(partly["person"].Touches(["name", "lastName"]));
        Assert.False(partly["person"].Touches(["name", "firstName"]));
        Assert.Empty(ShardExporter.PartlyRead(fields, segments, Evaluating("person.age > 1 and personalEmail.address.isNotNull()"))!);
        Assert.Null(ShardExporter.PartlyRead(FieldProjection.All, segments, null));
        Assert.Equal(["identityMap", "person", "personalEmail"], ShardExporter.MembersRead(fields, everyone, null)!.Order());
        Assert.Null(ShardExporter.MembersRead(FieldProjection.All, segments, null));
        Assert.Equal(["homeAddress", "identityMap", "person", "personalEmail", "segmentMembership"],
            ShardExporter.MembersRead(fields, everyone, Evaluating("homeAddress.city = \"Paris\""))!.Order());
        Assert.Null(ShardExporter.MembersRead(fields, segments, Evaluating("$1.keys().count() > 0")));
    }

    [Fact]
    public void An_export_reads_the_event_members_its_attachment_and_segments_name_and_every_one_when_either_reads_an_event_whole()
    {
        static EventAttachment Attaching(string? fields) => EventAttachment.For(new ExportJob
        {
            Destination = new JobDestination { DatasetId = "out" }, Schema = new SchemaRef { Name = SegmentDefinitionRules.ProfileSchema }, ImsOrgId = "org", Status = "NEW",
            AdditionalFields = new AdditionalFields { EventList = new EventList { Fields = fields } },
        })!;
        SegmentEvaluation Evaluating(string pql) => SegmentEvaluation.Compile(new Dictionary<string, string> { ["s1"] = pql }, DateTimeOffset.UtcNow);

        Assert.Equal(["_id", "commerce", "eventType", "timestamp"], ShardExporter.EventMembersRead(Attaching("eventType,commerce.order"), null)!.Order());
        Assert.Equal(["_id", "eventType", "timestamp", "web"],
            ShardExporter.EventMembersRead(Attaching("web"), Evaluating("xEvent[eventType = \"view\"].count() > 0"))!.Order());
        Assert.Equal(["eventType"], ShardExporter.EventMembersRead(null, Evaluating("exists X from xEvent where X.eventType = \"view\""))!.Order());
        Assert.Empty(ShardExporter.EventMembersRead(null, Evaluating("person.age > 1"))!);
        Assert.Null(ShardExporter.EventMembersRead(Attaching(null), Evaluating("xEvent.count() > 0")));
        Assert.Null(ShardExporter.EventMembersRead(Attaching("web"), Evaluating("exists X from xEvent where X.keys().count() > 1")));
    }

    [Fact]
    public async Task A_segment_job_reads_only_the_members_of_events_its_definitions_read()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        var tenant = harness.Tenant;
        var clients = harness.Get<StorageClients>();
        var identities = Enumerable.Range(0, 6).Select(i => $"u{i}@example.com").Order(StringComparer.Ordinal).ToList();
        FragmentRow Row(string id, string dataset, params Member[] members) => new("email", id, 1_000, dataset, "b", StoredRecord.OfMembers(members));
        await ProfileStore.WriteFileAsync(clients.Profiles, $"{tenant.BlobPrefix}/shard-0000/{1_000:D15}-b.parquet",
            identities.Select(id => Row(id, "ds", new Member(MemberName.Of("person"), "{\"age\":1}"u8.ToArray()))).ToList(), default);
        // Every event's member "other" holds text no JSON reader accepts: the job passes only if that column is left undecoded.
        await ProfileStore.WriteFileAsync(clients.Events, $"{tenant.BlobPrefix}/shard-0000/{1_000:D15}-b.parquet",
            identities.Select((id, i) => Row(id, "ev", new Member(MemberName.Of("eventType"), Encoding.UTF8.GetBytes(i % 3 == 0 ? "\"purchase\"" : "\"view\"")),
                new Member(MemberName.Of("other"), "{\"x\":"u8.ToArray()))).ToList(), default);
        var result = await EvaluateShardZeroAsync(harness, "xEvent[eventType = \"purchase\"].count() > 0");

        Assert.Equal(6, result.Profiles);
        Assert.Equal(2, result.Segments[Evaluated].Realized);
    }

    [Fact]
    public async Task A_segment_job_reads_only_the_members_its_definitions_read()
    {
        await using var harness = await ServiceHarness.StartAsync(s => s.Configure<ExportStorageOptions>(o => o.ShardCount = 1));
        var tenant = harness.Tenant;
        // Member "other" holds text no JSON reader accepts: putting together a record with it fails, so the job passes
        // only if its read leaves that member's column undecoded.
        var rows = Enumerable.Range(0, 10).Select(i => new FragmentRow("email", $"u{i}@example.com", 1_000, "ds", "b", StoredRecord.OfMembers(
            [new Member(MemberName.Of("person"), Encoding.UTF8.GetBytes($"{{\"age\":{i}}}")), new Member(MemberName.Of("other"), "{\"x\":"u8.ToArray())])))
            .OrderBy(r => r, Comparer<FragmentRow>.Create(FragmentRow.CompareIdentities)).ToList();
        await ProfileStore.WriteFileAsync(harness.Get<StorageClients>().Profiles, $"{tenant.BlobPrefix}/shard-0000/{1_000:D15}-b.parquet", rows, default);
        var result = await EvaluateShardZeroAsync(harness, "person.age >= 6");

        Assert.Equal(10, result.Profiles);
        Assert.Equal(4, result.Segments[Evaluated].Realized);
    }

    private const string Evaluated = "evaluated";

    /// <summary>Shard 0 evaluated by the activity step of a segment job of one segment, <see cref="Evaluated"/>, defined by <paramref name="pql"/>.</summary>
    private static async Task<Segments.SegmentShardResult> EvaluateShardZeroAsync(ServiceHarness harness, string pql)
    {
        var tenant = harness.Tenant;
        long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var job = await harness.Get<Segments.SegmentJobStore>().CreateAsync(tenant, id => new SegmentJob
        {
            Id = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ImsOrgId = tenant.OrgId, Sandbox = new SegmentSandbox(tenant.Sandbox), Source = "api",
            Status = Core.Jobs.JobStatus.Processing, CreationTime = now, UpdateTime = now,
            Segments = [new SegmentJobSegment { SegmentId = Evaluated, Segment = new SegmentJobDefinition { Id = Evaluated,
                Expression = new SegmentExpression { Type = "PQL", Format = "pql/text", Value = pql }, MergePolicyId = "p", MergePolicy = new SegmentJobMergePolicy("p", 1) } }],
        }, default);
        return await harness.Get<Segments.SegmentJobSteps>().EvaluateShardsAsync(new Segments.SegmentShardTask(new Segments.SegmentJobInput(tenant.OrgId, tenant.Sandbox, job.Number), [0]), default);
    }

    [Fact]
    public async Task A_read_that_keeps_no_identity_of_a_namespace_fetches_none_of_the_row_groups_of_that_namespace_alone()
    {
        var (container, ranges) = await CountedContainerAsync();
        var rows = NoisyRows(groupsPerNamespace: 6);
        long length = await ProfileStore.WriteFileAsync(container, "shard.parquet", rows, default);
        long firstCookieByte = await FirstByteOfRowGroupAsync(container.GetBlobClient("shard.parquet"), 6);

        static bool KeepsEveryTenthCookie(string ns, string id) => ns == "ECID" && id.EndsWith('0');
        var expected = rows.Where(r => KeepsEveryTenthCookie(r.IdentityNamespace, r.IdentityId)).Select(r => r.IdentityId).ToList();
        foreach (var filter in new[] { new IdentityFilter(KeepsEveryTenthCookie, ns => ns == "ECID"), new IdentityFilter(KeepsEveryTenthCookie) })
        {
            ranges.Starts.Clear();
            var read = new List<string>();
            await using (var reader = await FragmentFileReader.OpenAsync(container.GetBlobClient("shard.parquet"), 0, length, null, filter, default))
                while (await reader.MoveNextAsync(default)) read.Add(reader.Current.IdentityId);
            Assert.Equal(expected, read);
            // With the namespace known to be kept by none, no CRM group is fetched (the window from byte 0 is the Parquet
            // reader's check of the file's first bytes); without, each is, only to be dropped.
            Assert.Equal(filter.KeepsAnyOf is null, ranges.Starts.Any(start => start > 0 && start < firstCookieByte));
        }
    }

    [Fact]
    public async Task Row_groups_a_read_keeps_no_row_of_give_their_pooled_arrays_back_and_the_reader_holds_one_groups_at_most()
    {
        var (container, _) = await CountedContainerAsync();
        var rows = NoisyRows(groupsPerNamespace: 6);
        long length = await ProfileStore.WriteFileAsync(container, "shard.parquet", rows, default);
        string last = rows[^1].IdentityId;

        // Every group's ids are decoded to be asked about; only the last group keeps a row.
        await using var reader = await FragmentFileReader.OpenAsync(container.GetBlobClient("shard.parquet"), 0, length, null,
            new IdentityFilter((ns, id) => ns == "ECID" && id == last), default);
        var read = new List<string>();
        while (await reader.MoveNextAsync(default)) read.Add(reader.View.IdentityId);

        Assert.Equal([last], read);
        // The last group's binary columns: ids, records, their members' order and the member columns.
        Assert.InRange(reader.HeldArrays, 1, 3 + reader.Members.Count);
    }

    [Fact]
    public async Task A_read_that_keeps_every_identity_of_a_namespace_asks_nothing_of_the_rows_of_its_row_groups_and_keeps_them_all()
    {
        var (container, _) = await CountedContainerAsync();
        var rows = NoisyRows(groupsPerNamespace: 2);
        long length = await ProfileStore.WriteFileAsync(container, "shard.parquet", rows, default);

        var asked = new List<string>();
        bool KeepsEvenCookies(string ns, string id)
        {
            asked.Add(ns);
            return ns == "CRMID" || id[^1] % 2 == 0;
        }
        var expected = rows.Where(r => r.IdentityNamespace == "CRMID" || r.IdentityId[^1] % 2 == 0).Select(r => r.IdentityId).ToList();
        foreach (var filter in new[] { new IdentityFilter(KeepsEvenCookies) { KeepsAllOf = ns => ns == "CRMID" }, new IdentityFilter(KeepsEvenCookies) })
        {
            asked.Clear();
            var read = new List<string>();
            await using (var reader = await FragmentFileReader.OpenAsync(container.GetBlobClient("shard.parquet"), 0, length, null, filter, default))
                while (await reader.MoveNextAsync(default)) read.Add(reader.Current.IdentityId);
            Assert.Equal(expected, read);
            // Told that every CRM record is kept, the read asks only of the cookies; untold, of every row.
            Assert.Equal(filter.KeepsAllOf is null ? rows.Count : rows.Count / 2, asked.Count);
            Assert.Equal(filter.KeepsAllOf is null, asked.Contains("CRMID"));
        }
    }

    [Fact]
    public async Task A_read_records_the_row_groups_it_kept_whole_and_the_complements_read_fetches_none_of_them()
    {
        var (container, ranges) = await CountedContainerAsync();
        var rows = NoisyRows(groupsPerNamespace: 3);
        long length = await ProfileStore.WriteFileAsync(container, "shard.parquet", rows, default);
        var blob = container.GetBlobClient("shard.parquet");
        var groupStarts = new List<long>();
        for (int group = 0; group < 6; group++) groupStarts.Add(await FirstByteOfRowGroupAsync(blob, group));

        // A route moves every cookie but one of the fifth group's: the fourth and sixth groups are moved whole.
        string kept = $"ECID-{FragmentColumns.RowGroupSize + 7:D5}";
        bool Moves(string ns, string id) => ns == "ECID" && id != kept;
        var whole = new RowGroupSet();
        await using (var route = await FragmentFileReader.OpenAsync(blob, 0, length, null, new IdentityFilter(Moves) { KeptWhole = whole }, default))
            while (await route.MoveNextAsync(default)) { }
        Assert.Equal(2, whole.Count);
        Assert.True(whole.Contains("shard.parquet", 3) && whole.Contains("shard.parquet", 5));

        var expected = rows.Where(r => !Moves(r.IdentityNamespace, r.IdentityId)).Select(r => r.IdentityId).ToList();
        foreach (var skipped in new[] { whole, null })
        {
            ranges.Starts.Clear();
            var read = new List<string>();
            await using (var stage = await FragmentFileReader.OpenAsync(blob, 0, length, null, new IdentityFilter((ns, id) => !Moves(ns, id)) { KeepsNoneOf = skipped }, default))
                while (await stage.MoveNextAsync(default)) read.Add(stage.Current.IdentityId);
            Assert.Equal(expected, read);
            // Told which groups were moved whole, the read fetches neither; untold, it fetches both to drop their rows.
            Assert.Equal(skipped is null, ranges.Starts.Contains(groupStarts[3]));
            Assert.Equal(skipped is null, ranges.Starts.Contains(groupStarts[5]));
            Assert.Contains(groupStarts[4], ranges.Starts);
        }
    }

    [Fact]
    public async Task Fragment_files_written_one_after_the_other_into_one_blob_each_read_back_from_their_section()
    {
        var (container, _) = await CountedContainerAsync();
        var rows = NoisyRows(groupsPerNamespace: 2);
        var files = new[] { rows[..FragmentColumns.RowGroupSize], rows[FragmentColumns.RowGroupSize..], rows[..3] };
        using var blob = new MemoryStream();
        var sections = new List<(long Offset, long Length)>();
        foreach (var file in files)
        {
            using var one = new MemoryStream();
            await ProfileStore.WriteFileAsync(one, file, default);
            sections.Add((blob.Length, one.Length));
            one.WriteTo(blob);
        }
        blob.Position = 0;
        await container.GetBlobClient("run.files").UploadAsync(blob);

        for (int i = 0; i < files.Length; i++)
        {
            var read = new List<FragmentRow>();
            await using (var reader = await FragmentFileReader.OpenAsync(container.GetBlobClient("run.files"), sections[i].Offset, sections[i].Length, null, null, default))
                while (await reader.MoveNextAsync(default)) read.Add(reader.Current);
            Assert.Equal(files[i].Select(r => (r.IdentityNamespace, r.IdentityId)), read.Select(r => (r.IdentityNamespace, r.IdentityId)));
            Assert.Equal(files[i].Select(r => Encoding.UTF8.GetString(r.Record.ToJson().Span)), read.Select(r => Encoding.UTF8.GetString(r.Record.ToJson().Span)));
        }
    }

    [Fact]
    public async Task Merged_runs_give_their_rows_by_identity_then_by_run_whether_a_run_goes_on_alone_or_another_comes_between()
    {
        var (container, _) = await CountedContainerAsync();
        // Three runs over one range of ids: long stretches of the first run alone, ids in several runs, and rows of a run
        // over more than one row group; an identity has two rows in the second run.
        var random = new Random(5);
        var runs = Enumerable.Range(0, 3).Select(run => Enumerable.Range(0, 2_500)
            .Where(i => run == 0 ? i % 500 < 400 || i % 7 == 0 : random.Next(run == 1 ? 3 : 5) == 0)
            .SelectMany(i => Enumerable.Repeat(i, run == 1 && i % 11 == 0 ? 2 : 1))
            .Select((i, at) => new FragmentRow("ECID", $"ECID-{i:D5}", 1_000 + run, "ds", $"b{run}", StoredRecord.Split(Encoding.UTF8.GetBytes($$"""{"at":{{at}}}"""))))
            .ToList()).ToList();
        var cursors = new List<FragmentCursor>();
        for (int run = 0; run < runs.Count; run++)
        {
            long length = await ProfileStore.WriteFileAsync(container, $"run{run}.parquet", runs[run], default);
            cursors.Add((await FragmentCursor.OpenAsync([(container.GetBlobClient($"run{run}.parquet"), new FileSection($"run{run}.parquet", 0, length))], run, null, null, null, default))!);
        }

        var merged = new List<(string Id, int Run, string Record)>();
        await foreach (var cursor in FragmentCursor.MergeAsync(cursors, default))
            merged.Add((cursor.View.IdentityId, cursor.Index, Encoding.UTF8.GetString(cursor.Current.Record.ToJson().Span)));

        var expected = runs.SelectMany((rows, run) => rows.Select(r => (Id: r.IdentityId, Run: run, Record: Encoding.UTF8.GetString(r.Record.ToJson().Span))))
            .OrderBy(r => r.Id, StringComparer.Ordinal).ThenBy(r => r.Run).ToList();
        Assert.Equal(expected, merged);
        Assert.True(runs[0].Count > 2 * FragmentColumns.RowGroupSize);
    }

    /// <summary>A profiles container of a prefix of its own, whose client records where each ranged download starts.</summary>
    private static async Task<(BlobContainerClient Container, RangesFetched Ranges)> CountedContainerAsync()
    {
        var ranges = new RangesFetched();
        var options = new BlobClientOptions();
        options.AddPolicy(ranges, HttpPipelinePosition.PerCall);
        var container = new BlobServiceClient(TestStorage.ConnectionString, options)
            .GetBlobContainerClient(StorageNames.Container(TestStorage.NewPrefix(), StorageNames.ProfilesContainer));
        await container.CreateIfNotExistsAsync();
        return (container, ranges);
    }

    /// <summary>
    /// Row groups of CRM ids, then as many of cookies, in identity order, each record 1.3 KB of hex digits that Snappy
    /// shrinks to about half: a row group is over half a read's window (256 KB), so a window fetched for one group never
    /// holds the whole of the next.
    /// </summary>
    private static List<FragmentRow> NoisyRows(int groupsPerNamespace)
    {
        var random = new Random(11);
        return new[] { "CRMID", "ECID" }.SelectMany(ns => Enumerable.Range(0, groupsPerNamespace * FragmentColumns.RowGroupSize).Select(i => new FragmentRow(ns, $"{ns}-{i:D5}", 1_000, "ds", "b",
            StoredRecord.Split(Encoding.UTF8.GetBytes($$"""{"id":"{{i}}","noise":"{{Convert.ToHexString(random.GetItems<byte>(Enumerable.Range(0, 256).Select(b => (byte)b).ToArray(), 640))}}"}""")))))
            .ToList();
    }

    /// <summary>Where a row group's first column chunk starts in a file.</summary>
    private static async Task<long> FirstByteOfRowGroupAsync(BlobClient blob, int group)
    {
        using var stream = new MemoryStream((await blob.DownloadContentAsync()).Value.Content.ToArray());
        await using var reader = await ParquetReader.CreateAsync(stream);
        return reader.Metadata!.RowGroups[group].Columns.Min(c => c.MetaData!.DictionaryPageOffset is > 0 and var d ? Math.Min(d, c.MetaData.DataPageOffset) : c.MetaData.DataPageOffset);
    }

    /// <summary>Where each ranged download of blob bytes starts.</summary>
    private sealed class RangesFetched : HttpPipelineSynchronousPolicy
    {
        public System.Collections.Concurrent.ConcurrentQueue<long> Starts { get; } = new();

        public override void OnSendingRequest(HttpMessage message)
        {
            if (message.Request.Headers.TryGetValue("x-ms-range", out string? range) || message.Request.Headers.TryGetValue("Range", out range))
                Starts.Enqueue(long.Parse(range!["bytes=".Length..range!.IndexOf('-')], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>
    /// Every record reads back as written (its members in its order; a record kept whole, whole), a read naming members
    /// gets only those, and one leaving a member out all but that one.
    /// </summary>
    private static async Task AssertReadsAsync(ProfileStore store, ServiceHarness harness, Dictionary<(string Id, string Batch), string> written)
    {
        var asked = new HashSet<string>(StringComparer.Ordinal) { "a", "weird.name", "w3" };
        foreach (var members in new MemberSelection?[] { null, new(asked), new(null, "a"), new(asked, "weird.name") })
        {
            int read = 0;
            await foreach (var (identity, fragments) in store.ReadShardAsync(FragmentKind.Profile, harness.Tenant, 0, default, members: members))
                foreach (var fragment in fragments)
                {
                    string original = written[(identity.Id, fragment.BatchId)];
                    // Rows of a file of an earlier build stay whole, compacted or not: read as before, without the columns' gain.
                    if (IsKeptWhole(original) || fragment.BatchId == "old") Assert.Equal(original, fragment.Record.GetRawText());
                    else Assert.Equal(MembersOf(original).Where(m => members is null || members.Reads(m.Name)), MembersOf(fragment.Record.GetRawText()));
                    read++;
                }
            Assert.Equal(written.Count, read);
        }
    }

    private static bool IsKeptWhole(string json) => json.StartsWith("""{"a":1,"a":2""", StringComparison.Ordinal) || json == Wide || json == LongName;

    /// <summary>A record's members, in order, each with its value's text.</summary>
    private static List<(string Name, string Value)> MembersOf(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateObject().Select(p => (p.Name, p.Value.GetRawText())).ToList();
    }

    private static async Task<List<string>> MemberNamesAsync(ServiceHarness harness, string batch)
    {
        await using var reader = await ReaderOfAsync(harness, $"-{batch}.parquet");
        var names = JsonSerializer.Deserialize<List<string>>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
        Assert.Equal(FragmentColumns.MembershipsForm, reader.CustomMetadata[FragmentColumns.MembershipsKey]);
        var shapes = FragmentColumns.ShapesOf(reader.CustomMetadata[FragmentColumns.LeavesKey], names.Count);
        Assert.Equal([.. names.Select((_, i) => FragmentColumns.MemberColumn(i)), FragmentColumns.Memberships, .. shapes.SelectMany((shape, m) => FragmentColumns.LeafFields(m, shape)).Select(f => f.Name)],
            reader.Schema.GetDataFields().Skip(FragmentColumns.FirstMember).Select(f => f.Name));
        return names;
    }

    /// <summary>The values of the few-valued columns of the file whose name ends so, each column checked to hold integers.</summary>
    private static async Task<Dictionary<string, string[]>> IndexedValuesAsync(ServiceHarness harness, string nameEnd)
    {
        await using var reader = await ReaderOfAsync(harness, nameEnd);
        Assert.All(reader.Schema.GetDataFields().Where(f => FragmentColumns.Indexed.Contains(f.Name)), f => Assert.Equal(typeof(int), f.ClrType));
        return JsonSerializer.Deserialize<Dictionary<string, string[]>>(reader.CustomMetadata[FragmentColumns.ValuesKey])!;
    }

    /// <summary>A reader of the tenant's fragment file whose name ends so.</summary>
    private static async Task<ParquetReader> ReaderOfAsync(ServiceHarness harness, string nameEnd)
    {
        var container = harness.Get<StorageClients>().Profiles;
        await foreach (var blob in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = harness.Tenant.BlobPrefix + "/" }))
            if (blob.Name.EndsWith(nameEnd, StringComparison.Ordinal))
                return await ParquetReader.CreateAsync(new MemoryStream((await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToArray()));
        throw new InvalidOperationException($"No file ending {nameEnd}.");
    }

    /// <summary>A batch of records, each of an email identity, into dataset <c>ds</c> of the harness's tenant.</summary>
    private static Task WriteEmailRecordsAsync(ServiceHarness harness, string batch, long ingestTimeMs, IEnumerable<(string Id, string Json)> records) =>
        harness.Get<ProfileStore>().WriteBatchAsync(FragmentKind.Profile, harness.Tenant, "ds", batch, ingestTimeMs,
            records.Select(r => (new Identity("email", r.Id), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(r.Json))), default);

    /// <summary>
    /// A fragment file as the builds before packs wrote it: the member columns (and the whole records and the members'
    /// order) with a value per row, in row groups of <see cref="FragmentColumns.RowGroupSize"/>.
    /// </summary>
    private static async Task UploadPerRowFileAsync(ServiceHarness harness, string batch, long ingestTimeMs, Dictionary<(string Id, string Batch), string> records)
    {
        var rows = records.Where(r => r.Key.Batch == batch).OrderBy(r => IdentityKey.Of("email", r.Key.Id), StringComparer.Ordinal)
            .Select(r => (r.Key.Id, Record: StoredRecord.Split(Encoding.UTF8.GetBytes(r.Value)))).ToList();
        var names = rows.SelectMany(r => r.Record.Members.Select(m => m.Name.Text)).Distinct().ToList();
        // Its schema: this build's, but for the identity ids, a string column, and without the memberships index.
        var fields = FragmentColumns.Schema(names.Count).GetDataFields().Where(f => f.Name != FragmentColumns.Memberships)
            .Select(f => f.Name == FragmentColumns.Id ? new DataField(f.Name, typeof(string)) : new DataField(f.Name, f.ClrType, f.IsNullable)).ToArray();
        var schema = new ParquetSchema(fields);
        using var buffer = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, buffer))
        {
            writer.CustomMetadata = new Dictionary<string, string>
            {
                [FragmentColumns.MembersKey] = JsonSerializer.Serialize(names),
                [FragmentColumns.ValuesKey] = JsonSerializer.Serialize(new Dictionary<string, string[]>
                {
                    [FragmentColumns.Namespace] = ["email"], [FragmentColumns.Dataset] = ["ds"], [FragmentColumns.Batch] = [batch],
                }),
            };
            foreach (var chunk in rows.Chunk(FragmentColumns.RowGroupSize))
            {
                using var group = writer.CreateRowGroup();
                var zeros = new int[chunk.Length];
                await group.WriteAsync<int>(fields[0], zeros.AsMemory(), null, null, default);
                await group.WriteAsync(fields[1], chunk.Select(r => r.Id).ToList());
                await group.WriteAsync<long>(fields[2], chunk.Select(_ => ingestTimeMs).ToArray().AsMemory(), null, null, default);
                await group.WriteAsync<int>(fields[3], zeros.AsMemory(), null, null, default);
                await group.WriteAsync<int>(fields[4], zeros.AsMemory(), null, null, default);
                await group.WriteAsync<ReadOnlyMemory<byte>>(fields[5], chunk.Select(r => r.Record.IsWhole ? r.Record.ToJson() : (ReadOnlyMemory<byte>?)null).ToArray().AsMemory(), null, null, default);
                await group.WriteAsync<ReadOnlyMemory<byte>>(fields[6], chunk.Select(r => r.Record.IsWhole ? null
                    : (ReadOnlyMemory<byte>?)r.Record.Members.Select(m => (byte)names.IndexOf(m.Name.Text)).ToArray()).ToArray().AsMemory(), null, null, default);
                await group.WriteAsync<long>(fields[7], chunk.Select((_, i) => (long)i).ToArray().AsMemory(), null, null, default);
                for (int c = 0; c < names.Count; c++)
                    await group.WriteAsync<ReadOnlyMemory<byte>>(fields[FragmentColumns.FirstMember + c], chunk.Select(r => r.Record.Members.Where(m => m.Name.Text == names[c])
                        .Select(m => (ReadOnlyMemory<byte>?)m.Value).FirstOrDefault()).ToArray().AsMemory(), null, null, default);
            }
        }
        await UploadToShardZeroAsync(harness, batch, ingestTimeMs, buffer);
    }

    /// <summary>A fragment file as builds before the member columns wrote it: identity, provenance, and the whole record in one column.</summary>
    private static async Task UploadEarlierBuildFileAsync(ServiceHarness harness, string batch, long ingestTimeMs, Dictionary<(string Id, string Batch), string> records)
    {
        var rows = records.Where(r => r.Key.Batch == batch).OrderBy(r => IdentityKey.Of("email", r.Key.Id), StringComparer.Ordinal).ToList();
        var fields = new DataField[]
        {
            new("IdentityNamespace", typeof(string)), new("IdentityId", typeof(string)), new("IngestTimeMs", typeof(long)),
            new("DatasetId", typeof(string)), new("BatchId", typeof(string)), new("Record", typeof(byte[])),
        };
        using var buffer = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), buffer))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], rows.Select(_ => "email").ToList());
            await group.WriteAsync(fields[1], rows.Select(r => r.Key.Id).ToList());
            await group.WriteAsync<long>(fields[2], rows.Select(_ => ingestTimeMs).ToArray().AsMemory(), null, null, default);
            await group.WriteAsync(fields[3], rows.Select(_ => "ds").ToList());
            await group.WriteAsync(fields[4], rows.Select(_ => batch).ToList());
            await group.WriteAsync(fields[5], rows.Select(r => Encoding.UTF8.GetBytes(r.Value)).ToList());
        }
        await UploadToShardZeroAsync(harness, batch, ingestTimeMs, buffer);
    }

    /// <summary>A hand-written fragment file uploaded as the file of a batch of one chunk in shard 0.</summary>
    private static async Task UploadToShardZeroAsync(ServiceHarness harness, string batch, long ingestTimeMs, MemoryStream file)
    {
        file.Position = 0;
        await harness.Get<StorageClients>().Profiles.GetBlobClient($"{harness.Tenant.BlobPrefix}/shard-0000/{ingestTimeMs:D15}-{batch}.parquet").UploadAsync(file);
    }
}
