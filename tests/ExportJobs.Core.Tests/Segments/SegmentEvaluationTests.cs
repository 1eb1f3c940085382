using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;

namespace ExportJobs.Core.Tests.Segments;

public sealed class SegmentEvaluationTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private const string Earlier = "2026-01-01T00:00:00.000Z";

    private static MergedProfile ProfileWith(int points, string? gold = null, string? silver = null)
    {
        var record = new JsonObject { ["points"] = points };
        var ups = new JsonObject();
        if (gold is not null) ups["gold"] = new JsonObject { ["status"] = gold, ["lastQualificationTime"] = Earlier };
        if (silver is not null) ups["silver"] = new JsonObject { ["status"] = silver, ["lastQualificationTime"] = Earlier };
        record["segmentMembership"] = new JsonObject { ["ups"] = ups };
        var profile = new MergedProfile(new Identity("email", "a@example.com"));
        profile.MergeNewer(new ProfileFragment(profile.Identity, 1, "ds", "b", MergedValue.Of(record).Element));
        return profile;
    }

    private static SegmentEvaluation Evaluation() => SegmentEvaluation.Compile(
        new Dictionary<string, string> { ["gold"] = "points >= 100", ["silver"] = "points >= 10" }, Now);

    private static JsonObject? Entry(MergedProfile profile, string id) => profile.Attributes["segmentMembership"]?["ups"]?[id] as JsonObject;

    [Fact]
    public void Evaluation_reads_the_members_its_conditions_read_and_the_stored_memberships_or_the_whole_profile()
    {
        Assert.Equal(["points", "segmentMembership"], Evaluation().MembersRead!.Order(StringComparer.Ordinal));
        var whole = SegmentEvaluation.Compile(new Dictionary<string, string> { ["gold"] = "points >= 100", ["any"] = "$1.keys().count() > 0" }, Now);
        Assert.Null(whole.MembersRead);
    }

    [Fact]
    public void Evaluation_past_its_budget_fails_instead_of_running_on()
    {
        var profile = ProfileWith(150);
        profile.MergeNewer(new ProfileFragment(profile.Identity, 2, "ds", "b", MergedValue.Of(new JsonObject { ["text"] = new string('a', 5_000) }).Element));
        var expressions = new Dictionary<string, string> { ["slow"] = "text.matches(\"b\") or text.like(\"%b\")" };
        var within = SegmentEvaluation.Compile(expressions, Now, budget: 1_000_000);
        within.Apply(profile, []);
        Assert.Equal(2 * 5_001, within.Work);

        var tight = SegmentEvaluation.Compile(expressions, Now, budget: 25_000);
        tight.Apply(profile, []);
        tight.Apply(profile, []);
        Assert.Throws<SegmentEvaluation.BudgetExceededException>(() => tight.Apply(profile, []));
    }

    [Fact]
    public void Each_condition_sees_the_members_it_reads_and_one_over_the_profile_whole_sees_them_all()
    {
        var profile = ProfileWith(150);
        profile.MergeNewer(new ProfileFragment(profile.Identity, 2, "ds", "c", MergedValue.Of(new JsonObject { ["tier"] = "gold", ["other"] = 1 }).Element));
        var evaluation = SegmentEvaluation.Compile(new Dictionary<string, string>
        {
            ["rich"] = "points >= 100 and tier = \"gold\"",
            ["all"] = "$1.keys().count() = 4",
            ["member"] = "segmentMembership.ups.gold.status.isNull()",
        }, Now);

        evaluation.Apply(profile, []);

        Assert.Equal(["realized", "realized", "realized"], new[] { "rich", "all", "member" }.Select(id => (string?)Entry(profile, id)!["status"]));
    }

    [Fact]
    public void Conditions_read_the_profile_through_its_fragments_and_events_through_their_documents()
    {
        var profile = new MergedProfile(new Identity("email", "a@example.com"));
        profile.MergeNewer(new ProfileFragment(profile.Identity, 1, "ds", "b", JsonElement("""{"person":{"name":{"first":"Ann","last":"Lee"}},"tags":["a",null,"b"]}""")));
        profile.MergeNewer(new ProfileFragment(profile.Identity, 2, "ds", "c", JsonElement("""{"person":{"name":{"first":"Jo","last":null,"middle":"K"}},"points":5}""")));
        var evaluation = SegmentEvaluation.Compile(new Dictionary<string, string>
        {
            ["merged"] = "person.name.first = \"Jo\" and person.name.last = \"Lee\" and points = 5",
            ["keys"] = "person.name.keys().count() = 3 and person.name.values().includes(\"K\") and person.name.get(\"last\") = \"Lee\"",
            ["array"] = "tags.count() = 2 and tags.includes(\"b\")",
            ["event"] = "exists X from xEvent where X.kind = \"buy\" and X.order.price > 10",
        }, Now);

        evaluation.Apply(profile, [MergedValue.Of(JsonElement("""{"kind":"view"}""")), MergedValue.Of(JsonElement("""{"kind":"buy","order":{"price":20}}"""))]);

        Assert.Equal(["realized", "realized", "realized", "realized"], new[] { "merged", "keys", "array", "event" }.Select(id => (string?)Entry(profile, id)?["status"]));
    }

    private static System.Text.Json.JsonElement JsonElement(string json) => System.Text.Json.JsonElement.Parse(json);

    [Fact]
    public void A_new_qualification_is_realized_now_and_recorded()
    {
        var profile = ProfileWith(150);
        var changed = Evaluation().Apply(profile, []);
        Assert.Equal("realized", (string?)Entry(profile, "gold")!["status"]);
        Assert.Equal("2026-11-28T12:00:00.000Z", (string?)Entry(profile, "gold")!["lastQualificationTime"]);
        Assert.Equal("realized", changed!.Value.GetProperty("segmentMembership").GetProperty("ups").GetProperty("silver").GetProperty("status").GetString());
    }

    [Fact]
    public void A_continuing_qualification_keeps_its_time_and_records_nothing()
    {
        var profile = ProfileWith(150, gold: "realized", silver: "realized");
        Assert.Null(Evaluation().Apply(profile, []));
        Assert.Equal(Earlier, (string?)Entry(profile, "gold")!["lastQualificationTime"]);
    }

    [Fact]
    public void A_realized_profile_that_no_longer_qualifies_has_exited_with_its_time_kept()
    {
        var profile = ProfileWith(50, gold: "realized", silver: "realized");
        var changed = Evaluation().Apply(profile, []);
        Assert.Equal("exited", (string?)Entry(profile, "gold")!["status"]);
        Assert.Equal(Earlier, (string?)Entry(profile, "gold")!["lastQualificationTime"]);
        Assert.Equal("realized", (string?)Entry(profile, "silver")!["status"]);
        var recorded = changed!.Value.GetProperty("segmentMembership").GetProperty("ups");
        Assert.Equal(["gold"], recorded.EnumerateObject().Select(entry => entry.Name));
        Assert.Equal(Earlier, recorded.GetProperty("gold").GetProperty("lastQualificationTime").GetString());
    }

    [Fact]
    public void An_exited_profile_that_qualifies_again_is_realized_now_and_one_that_does_not_stays_exited()
    {
        var again = ProfileWith(150, gold: "exited");
        Evaluation().Apply(again, []);
        Assert.Equal("realized", (string?)Entry(again, "gold")!["status"]);
        Assert.Equal("2026-11-28T12:00:00.000Z", (string?)Entry(again, "gold")!["lastQualificationTime"]);

        var still = ProfileWith(1, gold: "exited");
        Assert.Null(Evaluation().Apply(still, []));
        Assert.Equal("exited", (string?)Entry(still, "gold")!["status"]);
    }

    [Fact]
    public void A_job_filter_sees_the_memberships_evaluation_just_changed()
    {
        var profile = ProfileWith(150, silver: "realized");
        var gold = new Jobs.ExportSelection(new Jobs.JobFilter { Segments = [new Jobs.SegmentSelector { SegmentId = "gold" }] });
        Assert.False(gold.Includes(profile));

        Evaluation().Apply(profile, []);

        Assert.True(gold.Includes(profile));
        Assert.Equal(Earlier, (string?)Entry(profile, "silver")!["lastQualificationTime"]);
    }

    [Fact]
    public void A_profile_that_never_qualified_gets_no_entry()
    {
        var profile = ProfileWith(1);
        Assert.Null(Evaluation().Apply(profile, []));
        Assert.Null(Entry(profile, "gold"));
    }

    [Fact]
    public void Recorded_memberships_leave_the_update_time_and_outrank_datasets()
    {
        var identity = new Identity("email", "a@example.com");
        var ingested = new ProfileFragment(identity, 100, "dsA", "b1", MergedValue.Of(new JsonObject
        {
            ["segmentMembership"] = new JsonObject { ["ups"] = new JsonObject { ["gold"] = new JsonObject { ["status"] = "realized" } } },
        }).Element);
        var evaluated = new ProfileFragment(identity, 50, SegmentEvaluation.MembershipDatasetId, "seg1", MergedValue.Of(new JsonObject
        {
            ["segmentMembership"] = new JsonObject { ["ups"] = new JsonObject { ["gold"] = new JsonObject { ["status"] = "exited" } } },
        }).Element);
        var rule = MergeRule.Of(new MergePolicies.AttributeMerge { Type = "dataSetPrecedence", Order = ["dsA"] });
        var merged = rule.Merge(identity, [ingested, evaluated]);
        Assert.Equal("exited", (string?)Entry(merged, "gold")!["status"]);
        Assert.Equal(100, merged.UpdateTimeMs);
    }
}
