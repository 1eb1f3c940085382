using ExportJobs.Core.Segments;

namespace ExportJobs.Core.Tests.Segments;

/// <summary>The parser and compiler table: what compiles, and for what does not, the position and reason reported.</summary>
public sealed class PqlParserTests
{
    public static TheoryData<string> Valid() => new()
    {
        "homeAddress.countryCode = \"US\" and person.birthYear >= 1980",
        "person.birthYear >= 1980",
        "person.birthYear > 1980.5",
        "person.birthYear < -5",
        "loyalty.points <= 1e3",
        "loyalty.points != 2.5E-1",
        "person.name.firstName <> 'Ann'",
        "person.name.firstName == 'Ann'",
        "a = 1 or b = 2 and c = 3",
        "(a = 1 or b = 2) and c = 3",
        "not a = 1",
        "not (a = 1 or b = 2)",
        "NOT a = 1 AND b = 2 OR c = 3",
        "not not a = 1",
        "consents.marketing",
        "consents.marketing = true",
        "true",
        "false or a = 1",
        "person.name.firstName like \"Jo%\"",
        "person.name.firstName like \"J_hn\"",
        "person.name.firstName like \"100\\\\%\"",
        "person.name.firstName.like(\"jo%\", false)",
        "person.name.firstName.startsWith(\"Jo\")",
        "person.name.firstName.startsWith(\"jo\", false)",
        "person.name.firstName.endsWith(\"hn\", true)",
        "person.name.firstName.contains(\"oh\")",
        "person.name.firstName.equals(\"John\", false)",
        "person.name.firstName.notEqualTo(\"John\")",
        "personalEmail.address.matches(\"^[a-z]+@example\\\\.com$\")",
        "personalEmail.address.matches(\"^A\", false)",
        "person.name.isNull()",
        "person.name.isNotNull()",
        "homeAddress.countryCode.in([\"US\", \"CA\"])",
        "homeAddress.countryCode.notIn([\"US\", \"CA\"])",
        "interests.includes(\"golf\")",
        "interests.intersects([\"golf\", \"tennis\"])",
        "interests.subsetOf([\"golf\", \"tennis\", \"chess\"])",
        "interests.supersetOf([\"golf\"])",
        "interests.count() > 2",
        "[1, 2, 3].count() = 3",
        "[] = []",
        "scores.sum() > 10",
        "scores.avg() >= 2.5",
        "scores.min() < 0",
        "scores.max() > 100",
        "xEvent.count() > 0",
        "xEvent.commerce.order.priceTotal.sum() > 100",
        "xEvent[eventType = \"purchase\"].count() >= 2",
        "xEvent[$1.eventType = \"purchase\"].count() >= 2",
        "xEvent[eventType = \"view\" and timestamp occurs <= 7 days before now].count() > 0",
        "(select X from xEvent where X.eventType = \"purchase\").count() > 1",
        "(select X from xEvent).count() > 1",
        "(select X from xEvent where $1.eventType = \"purchase\").count() > 1",
        "exists X from xEvent where X.eventType = \"purchase\"",
        "exists X from xEvent",
        "exists X from interests where X.startsWith(\"g\")",
        "forall X from xEvent where X.commerce.order.priceTotal > 10",
        "exists X from xEvent where (exists Y from xEvent where Y.eventType = X.eventType and Y._id != X._id)",
        "person.birthDate < date(2000, 1, 1)",
        "person.birthDate < date(2000, 1, 1, 12, 30, 0)",
        "person.birthDate <= currentDate()",
        "lastSeen < now()",
        "lastSeen occurs < 30 days before now",
        "lastSeen occurs <= 24 hours before now",
        "lastSeen occurs > 1 year before today",
        "lastSeen occurs >= 2 weeks before date(2026, 1, 1)",
        "lastSeen occurs 3 months before now",
        "nextVisit occurs <= 7 days after now",
        "lastSeen occurs between date(2026, 1, 1) and date(2026, 12, 31)",
        "lastSeen occurs on date(2026, 11, 28)",
        "lastSeen occurs today",
        "lastSeen occurs yesterday",
        "lastSeen occurs <= 5 minutes before now() and lastSeen occurs >= 1 second before now",
        "homeAddresses[countryCode = \"US\"].count() > 0",
        "homeAddresses[$1.countryCode = \"US\" and city.startsWith(\"New\")].count() > 0",
        "_tenant.loyalty.tier = \"gold\"",
        "identityMap.email.count() = 1",
        "person.name.firstName = \"\\u00e9\\\"\\n\"",
        "  a   =   1  ",
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void Compiles(string text)
    {
        var compiled = PqlCompiler.Compile(text);
        Assert.NotNull(compiled);
    }

    public static TheoryData<string, int, string> Invalid() => new()
    {
        { "", 0, "empty" },
        { "   ", 0, "empty" },
        { "a =", 3, "expected a value" },
        { "= 1", 0, "expected a value" },
        { "a = 1 and", 9, "expected a value" },
        { "a = 1 or or b = 2", 9, "expected a value" },
        { "a = 1 b = 2", 6, "expected an operator or the end" },
        { "(a = 1", 6, "expected ')'" },
        { "a = 1)", 5, "expected an operator or the end" },
        { "a = \"unterminated", 4, "not closed" },
        { "a = 1 # b", 6, "unexpected character '#'" },
        { "a = 1 & b = 2", 6, "unexpected character '&'" },
        { "a = $", 4, "'$' must be followed by a number" },
        { "a = 12abc", 6, "a number runs into" },
        { "a = 1e", 5, "exponent needs digits" },
        { "a = 99999999999999999999", 4, "too large" },
        { "a.", 2, "expected a name after '.'" },
        { "a.(b)", 2, "expected a name after '.'" },
        { "a.startsWith(\"x\"", 16, "expected ')'" },
        { "a.startsWith(\"x\",)", 17, "expected a value" },
        { "xEvent[eventType = \"a\"", 22, "expected ']'" },
        { "[1, 2", 5, "expected ']'" },
        { "a.foo()", 2, "unknown method 'foo'" },
        { "frobnicate(1)", 0, "unknown function 'frobnicate'" },
        { "startsWith(a)", 0, "is a method" },
        { "a.startsWith()", 2, "takes 1 or 2 arguments, not 0" },
        { "a.startsWith(\"x\", true, 1)", 2, "takes 1 or 2 arguments, not 3" },
        { "a.startsWith(\"x\", \"no\")", 18, "boolean literal" },
        { "a.isNull(1)", 2, "takes 0 arguments, not 1" },
        { "a.count(1) > 0", 2, "takes 0 arguments" },
        { "a.in() ", 2, "takes 1 argument, not 0" },
        { "a.matches(b)", 10, "string literal pattern" },
        { "a.matches(\"[a-\")", 10, "not a regular expression" },
        { "a.matches(\"(\")", 10, "not a regular expression" },
        { "a like b", 7, "string literal pattern" },
        { "5 like \"a%\"", 2, "like needs a string" },
        { "5.startsWith(\"a\")", 2, "needs a string, not a number" },
        { "date(2020, 13, 1) > a", 0, "no such day" },
        { "date(2020, 2, 30) > a", 0, "no such day" },
        { "date(2020, 1) > a", 0, "date takes" },
        { "date(2020, 1, x) > a", 0, "whole-number literals" },
        { "date(2020, 1, 1.5) > a", 0, "whole-number literals" },
        { "now(1) > a", 0, "takes 0 arguments" },
        { "\"text\"", 0, "must be a condition, not a string" },
        { "42", 0, "must be a condition, not a number" },
        { "[1, 2]", 0, "must be a condition, not a list" },
        { "a.count()", 2, "must be a condition, not a number" },
        { "date(2020, 1, 1)", 0, "must be a condition, not a date" },
        { "a = 1 and 5", 10, "the right side of and must be a condition" },
        { "\"x\" or a = 1", 0, "the left side of or must be a condition" },
        { "not 5", 4, "the operand of not must be a condition" },
        { "xEvent[5].count() > 0", 7, "a filter must be a condition" },
        { "exists X from xEvent where 3", 27, "a where clause must be a condition" },
        { "\"a\" < 3", 4, "cannot compare a string with a number" },
        { "true < false", 5, "cannot compare a condition with a condition" },
        { "[1] < [2]", 4, "cannot compare a list with a list" },
        { "date(2020,1,1) = 5", 15, "cannot compare a date with a number" },
        { "1.foo = 1", 2, "'foo' is not a member of a number" },
        { "\"a\".b = 1", 4, "'b' is not a member of a string" },
        { "xEvent[$2 = 1].count() > 0", 7, "$2 is not defined" },
        { "select X from xEvent", 0, "must be a condition, not a list" },
        { "exists from xEvent", 7, "expected a variable name" },
        { "exists X in xEvent", 9, "expected 'from'" },
        { "forall X from xEvent", 20, "expected 'where'" },
        { "exists and from xEvent", 7, "expected a variable name" },
        { "a occurs", 8, "whole number of time units" },
        { "a occurs 3", 10, "time unit" },
        { "a occurs 3 parsecs before now", 11, "time unit" },
        { "a occurs 3 days", 15, "'before' or 'after'" },
        { "a occurs 3 days around now", 16, "'before' or 'after'" },
        { "a occurs 2.5 days before now", 9, "whole number of time units" },
        { "a occurs between date(2020,1,1)", 31, "expected 'and'" },
        { "a occurs on", 11, "expected a value" },
        { "and = 1", 0, "expected a value" },
        { "a = not", 4, "expected a value" },
        { "a = (1", 6, "expected ')'" },
        { "like = 1", 0, "expected a value" },
        { "a = 1 and (b = 2 or)", 19, "expected a value" },
        { new string('(', 70) + "a = 1" + new string(')', 70), 64, "nests deeper" },
        { "a = 1 " + new string(' ', PqlParser.MaxLength), PqlParser.MaxLength, "longer than" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Refuses_with_position_and_reason(string text, int position, string reason)
    {
        var e = Assert.Throws<PqlException>(() => PqlCompiler.Compile(text));
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
        Assert.Equal(position, e.Position);
    }

    [Fact]
    public void The_table_has_at_least_80_cases_both_ways()
    {
        Assert.True(Valid().Count + Invalid().Count >= 80);
        Assert.True(Valid().Count >= 40 && Invalid().Count >= 40);
    }

    public static TheoryData<string, int, string> UnknownPaths() => new()
    {
        { "person.nickName = \"x\"", 7, "'person.nickName' is in no profile dataset's schema" },
        { "nothing.isNull()", 0, "'nothing' is in no profile dataset's schema" },
        { "xEvent.commerce.coupon.count() > 0", 16, "'xEvent.commerce.coupon' is in no event dataset's schema" },
        { "xEvent[eventTyp = \"a\"].count() > 0", 7, "'xEvent.eventTyp' is in no event dataset's schema" },
        { "exists X from xEvent where X.web.url = \"a\"", 29, "'xEvent.web' is in no event dataset's schema" },
        { "homeAddresses[zip = \"1\"].count() > 0", 14, "'homeAddresses.zip' is in no profile dataset's schema" },
    };

    [Theory]
    [MemberData(nameof(UnknownPaths))]
    public void An_unknown_path_is_refused_where_it_is_named(string text, int position, string reason)
    {
        var e = Assert.Throws<PqlException>(() => PqlCompiler.Compile(text, KnownPath));
        Assert.Contains(reason, e.Reason, StringComparison.Ordinal);
        Assert.Equal(position, e.Position);
    }

    [Fact]
    public void Known_paths_compile_against_the_same_schema()
    {
        PqlCompiler.Compile("person.name.firstName = \"a\" and homeAddresses[countryCode = \"US\"].count() > 0 and " +
                            "xEvent[eventType = \"a\"].commerce.order.priceTotal.sum() > 1 and exists X from xEvent where X.timestamp occurs today", KnownPath);
    }

    private static bool KnownPath(PqlPath path)
    {
        string[] profile = ["person", "person.name", "person.name.firstName", "homeAddresses", "homeAddresses.countryCode"];
        string[] events = ["", "eventType", "timestamp", "commerce", "commerce.order", "commerce.order.priceTotal"];
        return (path.Event ? events : profile).Contains(string.Join('.', path.Names));
    }
}
