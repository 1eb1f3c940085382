using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;

namespace ExportJobs.Core.Tests.Segments;

/// <summary>
/// Every construct evaluated on a profile that has the attribute, one where it is missing, and one where it is JSON
/// null. Expected: true, false, or null for unknown (which never qualifies a profile).
/// </summary>
public sealed class PqlEvaluatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private const string Profile = """
        {
          "person": { "name": { "firstName": "John", "lastName": null }, "birthYear": 1985, "birthDate": "1985-06-15" },
          "homeAddress": { "countryCode": "US", "city": "New York" },
          "homeAddresses": [ { "countryCode": "US", "city": "Boston" }, { "countryCode": "FR", "city": "Paris" } ],
          "personalEmail": { "address": "john.doe@example.com" },
          "interests": [ "golf", "chess" ],
          "scores": [ 1, 2.5, 6.5 ],
          "noScores": [],
          "consents": { "marketing": true, "sms": false },
          "loyalty": { "points": 1200.5, "tier": "Gold" },
          "lastSeen": "2026-11-25T08:00:00Z",
          "nextVisit": "2026-12-01T00:00:00Z"
        }
        """;

    private const string Events = """
        [
          { "_id": "e1", "eventType": "view", "timestamp": "2026-11-27T10:00:00Z" },
          { "_id": "e2", "eventType": "purchase", "timestamp": "2026-11-20T10:00:00Z", "commerce": { "order": { "priceTotal": 40 } } },
          { "_id": "e3", "eventType": "purchase", "timestamp": "2026-10-01T10:00:00Z", "commerce": { "order": { "priceTotal": 70.5 } } }
        ]
        """;

    public static TheoryData<string, bool?> Cases() => new()
    {
        // literals, paths and comparisons
        { "true", true },
        { "false", false },
        { "person.birthYear = 1985", true },
        { "person.birthYear = 1985.0", true },
        { "person.birthYear != 1985", false },
        { "person.birthYear < 1990 and person.birthYear <= 1985 and person.birthYear > 1980 and person.birthYear >= 1985", true },
        { "loyalty.points > 1200", true },
        { "homeAddress.countryCode = \"US\"", true },
        { "homeAddress.countryCode = 'us'", false },
        { "homeAddress.countryCode < \"ZZ\"", true },
        { "person.birthYear = \"1985\"", false },
        { "consents.marketing", true },
        { "consents.sms", false },
        { "consents.marketing = true", true },
        { "interests = [\"golf\", \"chess\"]", true },
        { "interests = [\"chess\", \"golf\"]", false },
        { "person.birthYear < -1", false },
        // null and missing: comparisons are unknown, never an error
        { "person.nickName = \"x\"", null },
        { "person.nickName != \"x\"", null },
        { "person.name.lastName = \"Doe\"", null },
        { "nothing.at.all > 3", null },
        { "person.birthYear < nothing", null },
        { "person.name.firstName.count.deeper = 1", null },
        { "consents.missing", null },
        { "homeAddress", null },
        // three-valued logic
        { "person.nickName = \"x\" or true", true },
        { "person.nickName = \"x\" or false", null },
        { "person.nickName = \"x\" and false", false },
        { "person.nickName = \"x\" and true", null },
        { "not person.nickName = \"x\"", null },
        { "not (person.birthYear = 1985)", false },
        { "not not consents.marketing", true },
        { "(person.birthYear = 1 or homeAddress.city = \"New York\") and not consents.sms", true },
        // strings
        { "person.birthYear in [1984, 1985]", true },
        { "person.birthYear notIn [1984, 1985]", false },
        { "homeAddress.countryCode in [\"US\", \"CA\"] and not (person.birthYear in [1990])", true },
        { "person.nickName in [1]", null },
        { "scores.average() > 3.3", true },
        { "person.name.firstName like \"Jo%\"", true },
        { "person.name.firstName like \"J_hn\"", true },
        { "person.name.firstName like \"j%\"", false },
        { "person.name.firstName.like(\"j%\", false)", true },
        { "person.name.firstName like \"%oh%\"", true },
        { "person.name.firstName like \"Jo\"", false },
        { "personalEmail.address like \"%.com\"", true },
        { "person.nickName like \"%\"", null },
        { "person.birthYear.like(\"1%\")", null },
        { "person.name.firstName.startsWith(\"Jo\")", true },
        { "person.name.firstName.startsWith(\"jo\")", false },
        { "person.name.firstName.startsWith(\"jo\", false)", true },
        { "person.name.firstName.endsWith(\"HN\", false)", true },
        { "person.name.firstName.endsWith(\"HN\")", false },
        { "person.name.firstName.contains(\"oh\")", true },
        { "person.name.firstName.contains(\"OH\", true)", false },
        { "person.name.firstName.equals(\"JOHN\", false)", true },
        { "person.name.firstName.equals(\"JOHN\")", false },
        { "person.name.firstName.notEqualTo(\"Jane\")", true },
        { "person.nickName.startsWith(\"a\")", null },
        { "person.name.firstName.startsWith(person.nickName)", null },
        { "personalEmail.address.matches(\"^[a-z.]+@example\\\\.com$\")", true },
        { "personalEmail.address.matches(\"^JOHN\", false)", true },
        { "personalEmail.address.matches(\"^JOHN\")", false },
        { "person.nickName.matches(\".*\")", null },
        { "loyalty.tier.matches(\"(a+)+$\")", false },
        // null checks
        { "person.nickName.isNull()", true },
        { "person.name.lastName.isNull()", true },
        { "person.name.firstName.isNull()", false },
        { "person.name.firstName.isNotNull()", true },
        { "person.nickName.isNotNull()", false },
        // arrays
        { "homeAddress.countryCode.in([\"US\", \"CA\"])", true },
        { "homeAddress.countryCode.in([\"FR\"])", false },
        { "homeAddress.countryCode.notIn([\"FR\"])", true },
        { "homeAddress.countryCode.notIn([\"US\"])", false },
        { "person.nickName.in([\"a\"])", null },
        { "person.nickName.notIn([\"a\"])", null },
        { "interests.includes(\"golf\")", true },
        { "interests.includes(\"tennis\")", false },
        { "missingList.includes(\"golf\")", null },
        { "interests.intersects([\"tennis\", \"chess\"])", true },
        { "interests.intersects([\"tennis\"])", false },
        { "missingList.intersects([\"tennis\"])", null },
        { "interests.subsetOf([\"golf\", \"chess\", \"tennis\"])", true },
        { "interests.subsetOf([\"golf\"])", false },
        { "noScores.subsetOf([1])", true },
        { "interests.supersetOf([\"golf\"])", true },
        { "interests.supersetOf([\"golf\", \"tennis\"])", false },
        { "missingList.supersetOf([])", null },
        { "interests.count() = 2", true },
        { "missingList.count() = 0", true },
        { "person.birthYear.count() = 1", true },
        { "scores.sum() = 10", true },
        { "scores.avg() > 3.33 and scores.avg() < 3.34", true },
        { "scores.min() = 1", true },
        { "scores.max() = 6.5", true },
        { "noScores.sum() = 0", null },
        { "missingList.avg() > 0", null },
        { "missingList.max() > 0", null },
        { "homeAddresses.countryCode.includes(\"FR\")", true },
        { "homeAddresses[countryCode = \"FR\"].city.includes(\"Paris\")", true },
        { "homeAddresses[$1.countryCode = \"US\"].count() = 1", true },
        { "homeAddresses[zip = \"1\"].count() = 0", true },
        // events: filters, select, exists, forall, aggregates
        { "xEvent.count() = 3", true },
        { "xEvent[eventType = \"purchase\"].count() = 2", true },
        { "xEvent[eventType = \"purchase\"].commerce.order.priceTotal.sum() = 110.5", true },
        { "xEvent.commerce.order.priceTotal.max() = 70.5", true },
        { "(select X from xEvent where X.eventType = \"purchase\").count() = 2", true },
        { "(select X from xEvent where X.commerce.order.priceTotal > 50).count() = 1", true },
        { "(select X from xEvent where $1.eventType = \"view\").count() = 1", true },
        { "exists X from xEvent where X.eventType = \"view\"", true },
        { "exists X from xEvent where X.eventType = \"refund\"", false },
        { "exists X from xEvent where X.missing = 1", false },
        { "forall X from xEvent where X.timestamp occurs <= 90 days before now", true },
        { "forall X from xEvent where X.eventType = \"purchase\"", false },
        { "forall X from xEvent where X.commerce.order.priceTotal > 0", false },
        { "forall X from missingList where X = 1", true },
        { "exists X from interests where X.startsWith(\"ch\")", true },
        { "exists X from xEvent where X.eventType = \"purchase\" and person.birthYear = 1985", true },
        // dates
        { "person.birthDate < date(1990, 1, 1)", true },
        { "person.birthDate = date(1985, 6, 15)", true },
        { "person.birthDate > date(1985, 6, 15, 0, 0, 1)", false },
        { "lastSeen < now()", true },
        { "lastSeen < currentDate()", true },
        { "nextVisit > currentDate()", true },
        { "person.name.firstName < now()", null },
        { "person.nickName < now()", null },
        { "xEvent.timestamp.max() = date(2026, 11, 27, 10, 0, 0)", true },
        // occurs
        { "lastSeen occurs <= 7 days before now", true },
        { "lastSeen occurs <= 3 days before now", false },
        { "lastSeen occurs < 4 days before now", true },
        { "lastSeen occurs > 3 days before now", true },
        { "lastSeen occurs >= 4 days before now", false },
        { "lastSeen occurs <= 100 hours before now", true },
        { "lastSeen occurs <= 1 month before now", true },
        { "lastSeen occurs <= 1 week before today", true },
        { "nextVisit occurs <= 7 days before now", false },
        { "nextVisit occurs <= 7 days after now", true },
        { "nextVisit occurs <= 2 days after now", false },
        { "lastSeen occurs <= 7 days after now", false },
        { "lastSeen occurs between date(2026, 11, 1) and date(2026, 11, 30)", true },
        { "lastSeen occurs between date(2026, 11, 26) and date(2026, 11, 30)", false },
        { "lastSeen occurs on date(2026, 11, 25)", true },
        { "lastSeen occurs on date(2026, 11, 26)", false },
        { "xEvent[timestamp occurs yesterday].count() = 1", true },
        { "xEvent[timestamp occurs today].count() = 0", true },
        { "person.nickName occurs <= 7 days before now", null },
        { "person.name.firstName occurs today", null },
        { "lastSeen occurs <= 99999999999 years before now", true },
        { "exists X from xEvent where X.eventType = \"purchase\" and X.timestamp occurs <= 10 days before now", true },
        { "exists X from xEvent where X.eventType = \"purchase\" and X.timestamp occurs <= 7 days before now", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Evaluates(string text, bool? expected)
    {
        var compiled = PqlCompiler.Compile(text);
        var events = JsonNode.Parse(Events)!.AsArray().Select(e => e!.AsObject()).ToList();
        Assert.Equal(expected, compiled.Evaluate(JsonNode.Parse(Profile)!.AsObject(), events, Now));
    }

    [Fact]
    public void On_an_empty_profile_with_no_events_nothing_throws_and_comparisons_are_unknown()
    {
        foreach (var text in Cases().Select(c => (string)c[0]))
        {
            var result = PqlCompiler.Compile(text).Evaluate(new JsonObject(), [], Now);
            if (text.StartsWith("person.birthYear = ", StringComparison.Ordinal)) Assert.Null(result);
        }
    }

    [Fact]
    public void A_catastrophic_pattern_runs_in_linear_time_and_gets_an_answer()
    {
        // With backtracking, (a+)+$ over 30 KB of 'a' and a '!' would run past its time limit and answer unknown.
        var compiled = PqlCompiler.Compile("text.matches(\"(a+)+$\") or text.like(\"%a%a%a%b\")");
        var profile = new JsonObject { ["text"] = new string('a', 30_000) + "!" };
        Assert.Equal(false, compiled.Evaluate(profile, [], Now));
        Assert.Equal(true, PqlCompiler.Compile("text.matches(\"(a+)+!$\")").Evaluate(profile, [], Now));
    }

    [Theory]
    [InlineData("text.matches(\"(a)\\\\1\")")]
    [InlineData("text.matches(\"a(?=b)\")")]
    [InlineData("text.matches(\"(?<!a)b\")")]
    [InlineData("text.matches(\"(?>a+)b\")")]
    public void A_pattern_that_needs_backtracking_is_refused_where_it_is_written(string text)
    {
        var e = Assert.Throws<PqlException>(() => PqlCompiler.Compile(text));
        Assert.Contains("needs backtracking", e.Reason);
        Assert.Equal(text.IndexOf('"'), e.Position);
    }

    [Theory]
    [InlineData("person.name = null", 14)]
    [InlineData("null = person.name", 0)]
    [InlineData("person.name != NULL", 15)]
    public void The_null_literal_is_refused_pointing_to_isNull(string text, int position)
    {
        var e = Assert.Throws<PqlException>(() => PqlCompiler.Compile(text));
        Assert.Contains("isNull()", e.Reason);
        Assert.Equal(position, e.Position);
    }

    [Fact]
    public void Only_a_condition_that_is_true_qualifies()
    {
        var unknown = PqlCompiler.Compile("missing = 1");
        Assert.False(unknown.Qualifies(MergedValue.Of(new JsonObject()), [], Now));
        Assert.True(PqlCompiler.Compile("missing.isNull()").Qualifies(MergedValue.Of(new JsonObject()), [], Now));
    }

    [Theory]
    [InlineData("person.name.firstName = \"Jane\"", "person")]
    [InlineData("person.birthYear > 1980 and homeAddress.city = \"Paris\"", "homeAddress,person")]
    [InlineData("$1.person.birthYear = 1985", "person")]
    [InlineData("homeAddresses[$1.countryCode = \"US\" and city = \"Paris\"].count() = 1", "homeAddresses")]
    [InlineData("exists X from interests where X.startsWith(\"ch\")", "interests")]
    [InlineData("exists X from xEvent where X.eventType = \"purchase\" and person.birthYear = 1985", "person")]
    [InlineData("xEvent[eventType = \"purchase\"].count() = 2", "")]
    [InlineData("[1, 2, 3].count() = 3", "")]
    public void A_condition_says_which_top_level_members_of_the_profile_it_reads(string text, string members)
    {
        var read = PqlCompiler.Compile(text).ProfileMembers;
        Assert.NotNull(read);
        Assert.Equal(members.Split(',', StringSplitOptions.RemoveEmptyEntries), read.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("xEvent[eventType = \"purchase\"].count() = 2", "eventType")]
    [InlineData("xEvent[eventType = \"purchase\"].commerce.order.priceTotal.sum() = 110.5", "commerce,eventType")]
    [InlineData("exists X from xEvent where X.eventType = \"view\" and person.birthYear = 1985", "eventType")]
    [InlineData("forall X from xEvent where X.timestamp occurs <= 90 days before now", "timestamp")]
    [InlineData("(select X from xEvent where $1.eventType = \"purchase\").count() = 2", "eventType")]
    [InlineData("xEvent.count() > 0", "")]
    [InlineData("person.birthYear = 1985", "")]
    public void A_condition_says_which_top_level_members_of_events_it_reads(string text, string members)
    {
        var read = PqlCompiler.Compile(text).EventMembers;
        Assert.NotNull(read);
        Assert.Equal(members.Split(',', StringSplitOptions.RemoveEmptyEntries), read.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("exists X from xEvent where X.keys().count() > 1")]
    [InlineData("xEvent[eventType = \"view\"].count() > 0 and (select X from xEvent).keys().count() > 0")]
    public void A_condition_that_uses_an_event_whole_names_no_event_members(string text)
    {
        var compiled = PqlCompiler.Compile(text);
        Assert.Null(compiled.EventMembers);
        Assert.NotNull(compiled.ProfileMembers);
    }

    [Theory]
    [InlineData("$1.keys().count() > 3")]
    [InlineData("person.birthYear = 1985 or $1.values().count() = 0")]
    public void A_condition_that_reads_the_profile_whole_names_no_members(string text) =>
        Assert.Null(PqlCompiler.Compile(text).ProfileMembers);

    [Fact]
    public void A_condition_says_whether_it_reads_events()
    {
        Assert.True(PqlCompiler.Compile("xEvent.count() > 0").UsesEvents);
        Assert.True(PqlCompiler.Compile("exists X from xEvent where X.a = 1").UsesEvents);
        Assert.False(PqlCompiler.Compile("a = 1 and b.count() > 0").UsesEvents);
    }
}
