using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Tests;

public class ProfileTests
{
    private static JsonObject Json(string text) => JsonNode.Parse(text)!.AsObject();

    private static ProfileFragment Fragment(long time, string json) =>
        new(new Identity("email", "a@x.com"), time, "ds", "b" + time, JsonElement.Parse(json));

    [Fact]
    public void Newer_fragments_win_member_by_member_and_nested_objects_merge()
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(Fragment(1, """{"person":{"name":{"firstName":"Old","lastName":"Lee"}},"tags":["a","b"],"points":1}"""));
        profile.MergeNewer(Fragment(2, """{"person":{"name":{"firstName":"New"}},"tags":["c"],"points":null}"""));

        Assert.Equal("New", (string)profile.Attributes["person"]!["name"]!["firstName"]!);
        Assert.Equal("Lee", (string)profile.Attributes["person"]!["name"]!["lastName"]!);
        Assert.Equal("""["c"]""", profile.Attributes["tags"]!.ToJsonString());
        Assert.Equal(1, (int)profile.Attributes["points"]!);
        Assert.Equal(2, profile.UpdateTimeMs);
    }

    [Fact]
    public void A_value_that_is_not_an_object_replaces_the_objects_below_it_and_null_erases_nothing()
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(Fragment(1, """{"a":{"x":1,"keep":true},"b":1,"list":[{"k":1}]}"""));
        profile.MergeNewer(Fragment(2, """{"a":5,"c":null,"list":[{"j":2}]}"""));
        profile.MergeNewer(Fragment(3, """{"a":{"y":2,"z":null},"b":null,"d":{"e":{"f":1}}}"""));
        profile.MergeNewer(Fragment(4, """{"a":{"y":3},"d":{"e":{"g":2}}}"""));

        const string merged = """{"a":{"y":3},"b":1,"list":[{"j":2}],"d":{"e":{"f":1,"g":2}}}""";
        Assert.Equal(merged, profile.Value.ToJsonString());
        Assert.Equal(merged, profile.Attributes.ToJsonString());
        Assert.True(profile.Value.TryGetProperty("d", out var d) && d.TryGetProperty("e", out var e) && e.TryGetProperty("f", out var f) && f.Element.GetInt32() == 1);
        Assert.False(profile.Value.TryGetProperty("c", out _));
    }

    [Fact]
    public void Members_whose_names_are_escaped_not_ascii_or_long_merge_and_write_by_their_names()
    {
        string longName = new('n', 300);
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(Fragment(1, $$$"""{"qu\"ote":{"x":1},"caf\u00e9":1,"naïve":{"a":1},"{{{longName}}}":{"p":1}}"""));
        profile.MergeNewer(Fragment(2, $$$"""{"qu\"ote":{"y":2},"café":2,"na\u00efve":{"b":2},"{{{longName}}}":{"q":2},"new":null}"""));

        string merged = $$$"""{"qu\u0022ote":{"x":1,"y":2},"caf\u00E9":2,"na\u00EFve":{"a":1,"b":2},"{{{longName}}}":{"p":1,"q":2}}""";
        Assert.Equal(merged, profile.Value.ToJsonString());
        Assert.Equal(merged, profile.Attributes.ToJsonString());
    }

    [Theory]
    [InlineData("""{ "b" : {"c\u00e9":"x\u00e9<", "n": [1, {"k": 2}]}, "a":1.50 }""", """{"b":{"c\u00E9":"x\u00E9\u003C","n":[1,{"k":2}]},"a":1.50}""")]
    [InlineData("""{"b":{"n":[1,null,{"k":null}]}}""", """{"b":{"n":[1,null,{"k":null}]}}""")]
    [InlineData("""{"b":{"c":null,"d":{"e":null,"f":"nullable"}},"g":[null]}""", """{"b":{"d":{"f":"nullable"}},"g":[null]}""")]
    [InlineData("""{"s":"nullable","t":{"u":"null"}}""", """{"s":"nullable","t":{"u":"null"}}""")]
    [InlineData("""[ {"a": null} ]""", """[{"a":null}]""")]
    public void A_value_of_one_record_is_written_minified_and_escaped_leaving_out_null_members_of_objects_not_in_arrays(string json, string written)
    {
        using var document = JsonDocument.Parse(json);
        using var empty = JsonDocument.Parse("{}");
        Assert.Equal(written, MergedValue.Of(document.RootElement).ToJsonString());
        if (document.RootElement.ValueKind == JsonValueKind.Object)
            Assert.Equal(written, MergedValue.Layered([document.RootElement, empty.RootElement], 2).ToJsonString());
    }

    [Theory]
    [InlineData("""{"email":[{"id":"a@example.com","primary":true}],"n":-1.5E3}""", true)]
    [InlineData("""[null,{"a":null}]""", true)]
    [InlineData("""{"a":null}""", false)]
    [InlineData("""{"a":"nullable"}""", false)]
    [InlineData("""{"a": 1}""", false)]
    [InlineData("""{"a":"x y"}""", false)]
    [InlineData("""{"a":"x+y"}""", false)]
    [InlineData("""{"a":"<b>"}""", false)]
    [InlineData("""{"a":"\u00e9"}""", false)]
    [InlineData("""{"a":"é"}""", false)]
    [InlineData("""{"a":"q\"q"}""", false)]
    public void A_value_written_back_unchanged_is_its_own_text_and_what_a_default_writer_writes(string json, bool unchanged)
    {
        using var document = JsonDocument.Parse(json);
        var value = MergedValue.Of(document.RootElement);
        Assert.Equal(unchanged, value.TryGetWrittenText(out var text));
        if (unchanged) Assert.Equal(value.ToJsonString(), Encoding.UTF8.GetString(text));
        using var layered = JsonDocument.Parse("""{"a":1}""");
        if (document.RootElement.ValueKind == JsonValueKind.Object)
            Assert.False(MergedValue.Layered([layered.RootElement, document.RootElement], 2).TryGetWrittenText(out _));
    }

    [Fact]
    public void Objects_of_the_same_text_in_several_records_merge_into_that_one_object()
    {
        const string map = """{"email":[{"id":"a@example.com","primary":true}],"x":{"y":1}}""";
        var same = new[] { $$"""{"identityMap":{{map}},"a":1}""", $$"""{"b":2}""", $$"""{"identityMap":{{map}}}""" }.Select(r => JsonElement.Parse(r)).ToArray();
        Assert.True(MergedValue.Layered(same, 3).TryGetProperty("identityMap", out var merged));
        Assert.Equal(map, Encoding.UTF8.GetString(JsonMarshal.GetRawUtf8Value(merged.Element)));
        Assert.True(merged.TryGetWrittenText(out _));

        // Another object between them: merged layer by layer, as before.
        const string other = """{"x":{"z":2},"ecid":[{"id":"1"}]}""";
        var between = new[] { same[0], JsonElement.Parse($$"""{"identityMap":{{other}}}"""), same[2] };
        Assert.True(MergedValue.Layered(between, 3).TryGetProperty("identityMap", out var layered));
        Assert.Throws<InvalidOperationException>(() => layered.Element);
        Assert.Equal("""{"email":[{"id":"a@example.com","primary":true}],"x":{"y":1,"z":2},"ecid":[{"id":"1"}]}""", layered.ToJsonString());
    }

    [Fact]
    public void Projection_keeps_nested_paths_nested()
    {
        var projection = FieldProjection.Parse("personalEmail.address, person.name.firstName");
        var result = projection.Apply(Json("""{"personalEmail":{"address":"a@x.com","status":"active"},"person":{"name":{"firstName":"A","lastName":"B"},"age":3},"other":1}"""));
        Assert.Equal("""{"personalEmail":{"address":"a@x.com"},"person":{"name":{"firstName":"A"}}}""", result.ToJsonString());
    }

    [Fact]
    public void Projection_through_an_array_of_objects_keeps_that_member_of_each_element()
    {
        var projection = FieldProjection.Parse("identities.id");
        var result = projection.Apply(Json("""{"identities":[{"id":"1","namespace":{"code":"email"}},{"id":"2"},{"other":3}],"x":1}"""));
        Assert.Equal("""{"identities":[{"id":"1"},{"id":"2"}]}""", result.ToJsonString());
    }

    [Fact]
    public void Projection_leaves_out_absent_paths_and_blank_keeps_everything()
    {
        Assert.Equal("{}", FieldProjection.Parse("missing.path").Apply(Json("""{"a":1}""")).ToJsonString());
        Assert.Equal("""{"a":{"b":1}}""", FieldProjection.Parse(" ").Apply(Json("""{"a":{"b":1}}""")).ToJsonString());
        Assert.Equal("""{"a":{"b":1,"c":2}}""", FieldProjection.Parse("a,a.b").Apply(Json("""{"a":{"b":1,"c":2}}""")).ToJsonString());
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a.y,b")]
    [InlineData("d.e.g,list.j,list.k")]
    [InlineData("list")]
    [InlineData("list.j,missing,a.missing,b.c")]
    [InlineData("d,a.y")]
    public void Projecting_a_merged_profile_reads_through_its_layers_as_projecting_its_built_attributes_does(string fields)
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(Fragment(1, """{"a":{"x":1,"keep":true},"b":1,"list":[{"k":1}]}"""));
        profile.MergeNewer(Fragment(2, """{"a":5,"c":null,"list":[{"j":2,"n":null},{"k":3},7,{"j":{"deep":null}}]}"""));
        profile.MergeNewer(Fragment(3, """{"a":{"y":2,"z":null},"b":null,"d":{"e":{"f":1}}}"""));
        profile.MergeNewer(Fragment(4, """{"a":{"y":3},"d":{"e":{"g":2,"h":null}}}"""));

        var projection = FieldProjection.Parse(fields);
        string expected = projection.Apply(profile.Attributes).ToJsonString();
        Assert.NotEqual("{}", expected);
        Assert.Equal(expected, projection.Apply(profile.Value).ToJsonString());
    }

    [Theory]
    [InlineData("person.name.first")]
    [InlineData("person.name")]
    [InlineData("person.age,person.name.last")]
    [InlineData("person.vip.level")]
    [InlineData("person.missing")]
    public void Projecting_layers_cut_to_the_leaves_the_fields_touch_gives_what_projecting_the_whole_layers_gives(string fields)
    {
        // Values of one member, each as a fragment file's typed leaves would give it back when a read asks for the
        // leaves the fields touch: names the fields go through or below, and a value where a field goes deeper.
        string[] layers =
        [
            """{"person":{"name":{"first":"A","last":"B"},"age":30,"vip":{"level":1}}}""",
            """{"person":{"name":"Bob","age":31}}""",
            """{"person":{"name":{"last":"C"},"vip":true}}""",
            """{"person":{"age":32,"name":{"first":"D"}}}""",
            """{"person":{}}""",
        ];
        var projection = FieldProjection.Parse(fields);
        var below = projection.Below("person")!;
        JsonObject Cut(JsonObject value, List<string> path)
        {
            var kept = new JsonObject();
            foreach (var (name, member) in value)
            {
                path.Add(name);
                if (member is JsonObject inner) { if (Cut(inner, path) is { Count: > 0 } cut) kept[name] = cut; }
                else if (below.Touches(path)) kept[name] = member!.DeepClone();
                path.RemoveAt(path.Count - 1);
            }
            return kept;
        }
        string Projected(Func<string, string> layer)
        {
            var profile = new MergedProfile(new Identity("email", "a@x.com"));
            for (int i = 0; i < layers.Length; i++) profile.MergeNewer(Fragment(i + 1, layer(layers[i])));
            return projection.Apply(profile.Value).ToJsonString();
        }
        var cut = layers.Select(l => new JsonObject { ["person"] = Cut(Json(l)["person"]!.AsObject(), []) }.ToJsonString()).ToList();
        Assert.NotEqual(layers, cut);
        Assert.Equal(Projected(l => l), Projected(l => cut[Array.IndexOf(layers, l)]));
    }

    [Fact]
    public void A_projection_touches_the_paths_on_its_fields_below_them_and_above_them_and_no_other()
    {
        var below = FieldProjection.Parse("person.name.first,person.vip").Below("person")!;
        Assert.True(below.Touches(["name", "first"]));
        Assert.True(below.Touches(["name"]));
        Assert.True(below.Touches(["vip", "level", "x"]));
        Assert.False(below.Touches(["name", "last"]));
        Assert.False(below.Touches(["age"]));
        Assert.Null(FieldProjection.Parse("person").Below("person"));
    }

    [Theory]
    [InlineData("""{"a":{"x":1,"keep":true},"b":1,"list":[{"k":1}]} | {"a":5,"c":null,"list":[{"j":2}]} | {"a":{"y":2,"z":null},"b":null,"d":{"e":{"f":1}}} | {"a":{"y":3},"d":{"e":{"g":2}}}""")]
    [InlineData("""[1,2] | {"a":{"x":1},"b":{"p":1}} | {"a":{"y":2},"b":null} | {"a":{"z":3},"b":{"q":2}}""")]
    [InlineData("""{"a":1,"a":{"x":1},"d":{"p":1},"d":null} | {"b":{"x":1},"b":2,"c\u00e9":{"m":1}}""")]
    [InlineData("""{"caf\u00e9":{"m":1},"a":[1],"b":{"x":{"y":1}}} | {"café":{"n":2},"a":{"x":1},"b":{"x":{"z":2}}} | {"c":"s"}""")]
    [InlineData("""{"a":{"x":1},"d":2}""")]
    public void Members_found_all_at_once_are_what_a_lookup_of_each_name_finds(string records)
    {
        string[] names = ["a", "b", "c", "d", "café", "list", "missing"];
        var lookup = new MemberLookup(names);
        var layers = records.Split(" | ").Select(r => JsonElement.Parse(r)).ToArray();
        // Every stack of the records, from one of them alone up.
        for (int count = 1; count <= layers.Length; count++)
        {
            var value = MergedValue.Layered(layers, count);
            lookup.Find(value);
            for (int i = 0; i < names.Length; i++)
            {
                bool expected = value.TryGetProperty(names[i], out var member);
                Assert.Equal(expected, lookup.TryGet(i, out var found));
                if (expected) Assert.Equal(member.ToJsonString(), found.ToJsonString());
            }
        }
    }

    [Fact]
    public void Members_are_not_found_in_a_value_that_is_not_an_object_after_one_that_is()
    {
        var lookup = new MemberLookup(["a"]);
        lookup.Find(MergedValue.Of(JsonElement.Parse("""{"a":1}""")));
        Assert.True(lookup.TryGet(0, out _));
        lookup.Find(MergedValue.Of(JsonElement.Parse("[1]")));
        Assert.False(lookup.TryGet(0, out _));
        Assert.Throws<ArgumentException>(() => new MemberLookup(["a", "b", "a"]));
    }

    [Theory]
    [InlineData("d.e.g", true)]
    [InlineData("d.e.h", false)]
    [InlineData("a.y,missing", true)]
    [InlineData("a.x", false)]
    [InlineData("list.j", true)]
    [InlineData("list.n", false)]
    [InlineData("missing.path", false)]
    [InlineData("", true)]
    public void A_projection_keeps_something_of_a_merged_profile_exactly_where_applying_it_keeps_something(string fields, bool keeps)
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(Fragment(1, """{"a":{"x":1},"list":[{"k":1}]}"""));
        profile.MergeNewer(Fragment(2, """{"a":5,"list":[{"j":2,"n":null},7]}"""));
        profile.MergeNewer(Fragment(3, """{"a":{"y":2},"d":{"e":{"g":2,"h":null}}}"""));

        var projection = FieldProjection.Parse(fields);
        Assert.Equal(keeps, projection.Apply(profile.Value).ToJsonString() != "{}");
        Assert.Equal(keeps, projection.Keeps(profile.Value));
    }

    [Theory]
    [InlineData("""{"identityMap":{"email":[{"id":"a@x.com","primary":true}],"ecid":[{"id":"1"}]}}""", "email", "a@x.com")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]}}""", "ecid", "1")]
    public void The_primary_identity_is_the_marked_one_or_the_only_one(string json, string ns, string id)
    {
        Assert.True(ProfileRecordParser.TryParse(json, out var primary, out _));
        Assert.Equal(new Identity(ns, id), primary);
    }

    [Theory]
    [InlineData("""{"a":1}""", "identityMap is missing")]
    [InlineData("""{"identityMap":{}}""", "identityMap is missing")]
    [InlineData("""{"identityMap":{"email":[{"id":"a"}],"ecid":[{"id":"1"}]}}""", "none is marked primary")]
    [InlineData("""{"identityMap":{"email":[{"id":"a","primary":true}],"ecid":[{"id":"1","primary":true}]}}""", "more than one")]
    [InlineData("""{"identityMap":{"email":[{"id":5}]}}""", "string id")]
    [InlineData("""{"identityMap":{"e/mail":[{"id":"a"}]}}""", "namespace")]
    [InlineData("""{"identityMap":{"email":{"id":"a"}}}""", "array")]
    public void Records_without_one_primary_identity_are_rejected_with_a_reason(string json, string reason)
    {
        Assert.False(ProfileRecordParser.TryParse(json, out _, out string? error));
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("{\"a\":\"\\u00e9\" broken", "not valid JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"segmentMembership":{"ups":{"s1":{"status":"gone"}}}}""", "status")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"segmentMembership":{"ups":{"s1":{"status":"realized","lastQualificationTime":"soon"}}}}""", "lastQualificationTime")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"segmentMembership":[]}""", "segmentMembership")]
    public void Bad_lines_are_rejected_with_a_reason(string line, string reason)
    {
        Assert.False(ProfileRecordParser.TryParse(line, out _, out string? error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void A_projection_can_select_one_segment_membership_by_its_id()
    {
        var profile = Json("""{"segmentMembership":{"ups":{"52c26d0d-45f2-47a2-ab30-ed06abc981ff":{"status":"realized"},"other":{"status":"exited"}}},"_tenant":{"loyalty-tier":"gold","x":1}}""");
        var projected = FieldProjection.Parse("segmentMembership.ups.52c26d0d-45f2-47a2-ab30-ed06abc981ff,_tenant.loyalty-tier").Apply(profile);
        Assert.Equal("""{"segmentMembership":{"ups":{"52c26d0d-45f2-47a2-ab30-ed06abc981ff":{"status":"realized"}}},"_tenant":{"loyalty-tier":"gold"}}""", projected.ToJsonString());
    }

    [Theory]
    [InlineData("identityMap,person.name.first", true)]
    [InlineData("person", true)]
    [InlineData("segmentMembership", true)]
    [InlineData("segmentMembership.ups.s1", false)]
    [InlineData("orders.sku", false)]
    [InlineData("note.text", false)]
    [InlineData("person.name.first,orders.sku", false)]
    public void Columns_make_a_projection_only_where_every_path_goes_through_objects_to_what_it_keeps_whole(string fields, bool shredded)
    {
        var schema = Schemas.SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{
              "identityMap":{"type":"object","additionalProperties":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"}}}}},
              "segmentMembership":{"type":"object","additionalProperties":{"type":"object","properties":{"status":{"type":"string"}}}},
              "person":{"type":"object","properties":{"name":{"type":"object","properties":{"first":{"type":"string"},"last":{"type":"string"}}}}},
              "orders":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"}}}},
              "note":{}}}
            """), "schema", new ProblemList())!;
        var projection = FieldProjection.Parse(fields);

        Assert.Equal(shredded, projection.ShreddedBy(projection.Project(schema)));
    }

    [Theory]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"identityMap":{"ecid":[{"id":"2"}]}}""", "Duplicate property")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"a":{"b":1,"b":2}}""", "Duplicate property")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"a\ud800"}]}}""", "surrogate")]
    [InlineData("""{"identityMap":{"ecid":[{"id":"1"}]},"note":"\udc00"}""", "surrogate")]
    public void Lines_with_duplicate_members_or_lone_surrogates_are_rejected_not_thrown(string line, string reason)
    {
        Assert.False(ProfileRecordParser.TryParse(System.Text.Encoding.UTF8.GetBytes(line), out _, out string? error));
        Assert.Contains(reason, error, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Ids_that_differ_only_in_invalid_utf8_bytes_are_both_rejected_never_merged()
    {
        byte[] Line(byte bad) => [.. "{\"identityMap\":{\"ecid\":[{\"id\":\"x"u8, bad, .. "\"}]}}"u8];
        foreach (byte bad in new byte[] { 0xFF, 0xFE, 0xC0 })
        {
            Assert.False(ProfileRecordParser.TryParse(Line(bad), out _, out string? error));
            Assert.Equal("not valid UTF-8.", error);
        }
        Assert.True(ProfileRecordParser.TryParse("{\"identityMap\":{\"ecid\":[{\"id\":\"x\u00e9\"}]}}"u8.ToArray(), out var identity, out _));
        Assert.Equal("x\u00e9", identity.Id);
    }

    [Fact]
    public void Shards_are_stable_and_spread()
    {
        var identity = new Identity("email", "a@x.com");
        Assert.Equal(ShardRouter.ShardOf(identity, 16), ShardRouter.ShardOf(identity, 16));
        var used = Enumerable.Range(0, 1000).Select(i => ShardRouter.ShardOf(new Identity("ecid", i.ToString()), 16)).Distinct().Count();
        Assert.Equal(16, used);
    }

    [Fact]
    public void An_identity_goes_to_the_shard_of_the_FNV_1a_hash_of_its_namespace_a_unit_separator_and_its_id_in_UTF_8()
    {
        // The placement stored data was written with: a change would leave earlier fragments in the wrong shards.
        static int Reference(Identity identity, int shards)
        {
            uint hash = 2166136261;
            foreach (byte b in System.Text.Encoding.UTF8.GetBytes(identity.Namespace + "\u001f" + identity.Id)) hash = (hash ^ b) * 16777619;
            return (int)(hash % (uint)shards);
        }
        string[] ids = ["a@x.com", "1", "", "x\u00e9", "名前", "\ud83d\ude00 smile", new string('z', 2000), "tab\there"];
        foreach (var identity in ids.SelectMany(id => new[] { new Identity("email", id), new Identity("ECID", id) }))
            foreach (int shards in new[] { 1, 16, 97 })
                Assert.Equal(Reference(identity, shards), ShardRouter.ShardOf(identity, shards));
        Assert.Equal([4, 9], new[] { new Identity("email", "a@x.com"), new Identity("ecid", "90000000003") }.Select(i => ShardRouter.ShardOf(i, 16)));
    }

    private static MergedProfile Profile(string membershipJson, long updated = 10)
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        profile.MergeNewer(new ProfileFragment(profile.Identity, updated, "ds", "b", JsonElement.Parse($$"""{"segmentMembership":{{membershipJson}}}""")));
        return profile;
    }

    [Fact]
    public void Selection_matches_requested_segments_statuses_and_namespaces()
    {
        var realizedInUps = Profile("""{"ups":{"s1":{"status":"realized"}}}""");
        var exitedInUps = Profile("""{"ups":{"s1":{"status":"exited"}}}""");
        var realizedInAam = Profile("""{"AAM":{"s1":{"status":"realized"}}}""");

        var defaults = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }] });
        Assert.True(defaults.Includes(realizedInUps));
        Assert.False(defaults.Includes(exitedInUps));
        Assert.False(defaults.Includes(realizedInAam));

        var both = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1", Status = ["realized", "exited"] }] });
        Assert.True(both.Includes(exitedInUps));

        var aam = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1", SegmentNs = "AAM" }] });
        Assert.True(aam.Includes(realizedInAam));
        Assert.False(aam.Includes(realizedInUps));

        Assert.True(new ExportSelection(null).Includes(exitedInUps));

        var three = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s0" }, new SegmentSelector { SegmentId = "s1" }, new SegmentSelector { SegmentId = "s1", SegmentNs = "AAM" }] });
        var matches = new List<int> { 7 };
        Assert.True(three.Includes(realizedInUps, matches));
        Assert.Equal([1], matches);
        Assert.False(three.Includes(exitedInUps, matches));
        Assert.Empty(matches);
        Assert.True(new ExportSelection(null).Includes(exitedInUps, matches));
        Assert.Empty(matches);
    }

    [Theory]
    [InlineData("""{"ups":{"s1":{"status":"realized"}}}""", true)]
    [InlineData("""{"ups":{"s1":{"status":"exited"}}}""", false)]
    [InlineData("""{"AAM":{"s1":{"status":"realized"}}}""", false)]
    [InlineData("""{"ups":{"s2":{"status":"realized"},"s1":{"lastQualificationTime":"x","status":"realized"}}}""", true)]
    [InlineData("""{"ups":{"s1":{"status":{"status":"realized"}}}}""", false)]
    [InlineData("""{"ups":{"s1":"realized"}}""", false)]
    [InlineData("""{"ups":{"s2":{"s1":{"status":"realized"}}}}""", false)]
    [InlineData("""{"ups":{"\u0073\u0031":{"status":"re\u0061lized"}}}""", true)]
    [InlineData("""{"ups":{"s1":{"status":"realized"},"s1":{"status":"exited"}}}""", true)]
    [InlineData("""{"ups":{"s1":{"status":["realized"]}},"s1":{"status":"realized"}}""", false)]
    [InlineData("""{"ups":[{"s1":{"status":"realized"}}]}""", false)]
    [InlineData("""[]""", false)]
    [InlineData("""null""", false)]
    public void A_fragment_could_qualify_only_by_a_requested_status_of_a_requested_segment(string membership, bool could)
    {
        var selection = new ExportSelection(new JobFilter { Segments = [new SegmentSelector { SegmentId = "s1" }] });
        Assert.Equal(could, selection.CouldQualify(System.Text.Encoding.UTF8.GetBytes(membership)));
        Assert.True(new ExportSelection(null).CouldQualify(System.Text.Encoding.UTF8.GetBytes(membership)));
    }

    /// <summary>
    /// What lets a read leave a profile out unparsed: a profile whose fragments none could qualify is never included,
    /// whatever the merge, on generated fragments whose memberships mix requested and other statuses, segments and
    /// namespaces, non-object values and nulls.
    /// </summary>
    [Fact]
    public void A_profile_none_of_whose_fragments_could_qualify_is_never_included()
    {
        var random = new Random(20261201);
        string[] entries = ["{\"status\":\"realized\"}", "{\"status\":\"exited\"}", "{\"status\":null}", "{\"lastQualificationTime\":\"2026-01-01T00:00:00Z\"}", "null", "\"realized\"", "{}"];
        var selection = new ExportSelection(new JobFilter
        {
            Segments = [new SegmentSelector { SegmentId = "s1" }, new SegmentSelector { SegmentId = "s2", SegmentNs = "AAM", Status = ["exited"] }],
        });
        int included = 0, leftOut = 0;
        for (int p = 0; p < 5000; p++)
        {
            var profile = new MergedProfile(new Identity("email", "a@x.com"));
            bool anyCould = false;
            for (int f = random.Next(1, 4); f > 0; f--)
            {
                var namespaces = new List<string>();
                foreach (string ns in new[] { "ups", "AAM" })
                {
                    if (random.Next(3) == 0) continue;
                    var segments = new List<string>();
                    foreach (string id in new[] { "s1", "s2" })
                        if (random.Next(3) > 0) segments.Add($"\"{id}\":{entries[random.Next(entries.Length)]}");
                    namespaces.Add($"\"{ns}\":" + (random.Next(8) == 0 ? "null" : "{" + string.Join(",", segments) + "}"));
                }
                string membership = random.Next(10) == 0 ? "null" : "{" + string.Join(",", namespaces) + "}";
                anyCould |= selection.CouldQualify(System.Text.Encoding.UTF8.GetBytes(membership));
                profile.MergeNewer(new ProfileFragment(profile.Identity, f, "ds", "b", JsonElement.Parse($$"""{"segmentMembership":{{membership}}}""")));
            }
            bool includes = selection.Includes(profile);
            Assert.True(anyCould || !includes, profile.Value.ToJsonString());
            included += includes ? 1 : 0;
            leftOut += anyCould ? 0 : 1;
        }
        Assert.InRange(included, 500, 4500);
        Assert.InRange(leftOut, 500, 4500);
    }

    [Fact]
    public void Qualification_window_bounds_are_inclusive_and_ingest_time_is_strictly_after()
    {
        var profile = Profile("""{"ups":{"s1":{"status":"realized","lastQualificationTime":"2018-01-10T00:00:00Z"}}}""", updated: 1000);
        ExportSelection Window(string? start, string? end) => new(new JobFilter
        {
            Segments = [new SegmentSelector { SegmentId = "s1" }],
            SegmentQualificationTime = new QualificationWindow { StartTime = start, EndTime = end },
        });
        Assert.True(Window("2018-01-10T00:00:00Z", "2018-01-10T00:00:00Z").Includes(profile));
        Assert.False(Window("2018-01-10T00:00:01Z", null).Includes(profile));
        Assert.False(Window(null, "2018-01-09T23:59:59Z").Includes(profile));

        string at = DateTimeOffset.FromUnixTimeMilliseconds(1000).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");
        string before = DateTimeOffset.FromUnixTimeMilliseconds(999).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'");
        Assert.False(new ExportSelection(new JobFilter { FromIngestTimestamp = at }).Includes(profile));
        Assert.True(new ExportSelection(new JobFilter { FromIngestTimestamp = before }).Includes(profile));
    }

    [Fact]
    public void Job_states_move_only_forward()
    {
        Assert.True(JobStatus.CanMove(JobStatus.New, JobStatus.Processing));
        Assert.True(JobStatus.CanMove(JobStatus.Processing, JobStatus.Cancelling));
        Assert.True(JobStatus.CanMove(JobStatus.Cancelling, JobStatus.Cancelled));
        Assert.False(JobStatus.CanMove(JobStatus.Cancelling, JobStatus.Succeeded));
        Assert.False(JobStatus.CanMove(JobStatus.Succeeded, JobStatus.Cancelling));
        Assert.False(JobStatus.CanMove(JobStatus.Failed, JobStatus.Processing));
    }
}
