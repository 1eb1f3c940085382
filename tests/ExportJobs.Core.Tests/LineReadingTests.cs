using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Tests;

/// <summary>
/// A line is read once, token by token, for all of its checks: what a reader in text order could get wrong — a value
/// whose parts come in any order, a problem found late that outranks one found early — is checked here.
/// </summary>
public class LineReadingTests
{
    private const string Id = """ "identityMap":{"ecid":[{"id":"1"}]} """;

    private static readonly SchemaNode Schema = SystemFields.ForProfiles(SchemaNode.Parse(JsonNode.Parse("""
        {"type":"object","properties":{
          "person":{"type":"object","required":["name"],"properties":{"name":{"type":"string"},"age":{"type":"integer"}}},
          "loyalty":{"type":"object","properties":{"points":{"type":"integer"}}},
          "tags":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"}}}},
          "many":{"type":"object","additionalProperties":{"type":"integer"}}
        }}
        """), "schema", new ProblemList())!);

    private static string? Reason(string line, SchemaNode? schema = null) =>
        ProfileRecordParser.TryRead(Encoding.UTF8.GetBytes(line), isEvent: false, schema, out _, out string? reason) ? null : reason;

    [Theory]
    // The first object to end with a repeated name is the one named, as a parse into a document names it.
    [InlineData("""{"a":1,"a":2,"o":{"b":1,"b":2}}""", "Duplicate property 'b'")]
    // Names compared unescaped, in an object of more names than are compared one by one.
    [InlineData("""{"many":{"p0":0,"p1":1,"p2":2,"p3":3,"p4":4,"p5":5,"p6":6,"p7":7,"p8":8,"p9":9,"p10":0,"p11":1,"p12":2,"p13":3,"p14":4,"p15":5,"p16":6,"p17":7,"p\u0033":9}}""", "Duplicate property 'p3'")]
    [InlineData("""{"segmentMembership":{"ups":{"s1":{"status":"realized"}}},"segmentMembership":null}""", "Duplicate property 'segmentMembersh...'")]
    // A membership's status is reported before its time, whichever comes first in the entry.
    [InlineData("""{"segmentMembership":{"ups":{"s1":{"lastQualificationTime":"soon","status":"gone"}}},""" + Id + "}", "segmentMembership.ups.s1.status must be")]
    [InlineData("""{"segmentMembership":{"u\u0070s":{"s1":{"lastQualificationTime":"soon","status":"exited"}}},""" + Id + "}", "segmentMembership.ups.s1.lastQualificationTime must be")]
    // Identities outrank memberships, and memberships the schema, wherever they are in the line.
    [InlineData("""{"loyalty":{"points":"x"},"segmentMembership":{"ups":{"s1":{"status":"gone"}}},"identityMap":{}}""", "identityMap is missing or empty.")]
    [InlineData("""{"loyalty":{"points":"x"},"segmentMembership":{"ups":{"s1":{"status":"gone"}}},""" + Id + "}", "segmentMembership.ups.s1.status must be")]
    // An object's required members are checked at its end, before what follows it.
    [InlineData("""{"person":{"age":3},"loyalty":{"points":"x"},""" + Id + "}", "does not fit the dataset's schema: person.name: required.")]
    [InlineData("""{"tags":[{"k":"a"},{"k":1}],""" + Id + "}", "does not fit the dataset's schema: tags[1].k: expected a string.")]
    [InlineData("""{"many":{"a":1,"b\u0062":"x"},""" + Id + "}", "does not fit the dataset's schema: many.bb: expected an integer.")]
    public void The_reason_is_the_one_a_whole_record_would_give(string line, string reason) =>
        Assert.StartsWith(reason, Reason(line, Schema)?.Replace("not valid JSON: ", ""));

    [Fact]
    public void An_identity_is_read_whatever_the_order_of_its_entry()
    {
        Assert.True(ProfileRecordParser.TryParse("""{"identityMap":{"ecid":[{"id":"1"},{"primary":true,"id":"2"}],"email":[{"id":"a@x.com"}]}}""", out var primary, out _));
        Assert.Equal(new Identity("ecid", "2"), primary);
        Assert.Null(Reason("""{"person":{"name":"A","age":null},"many":{"x":null},""" + Id + "}", Schema));
    }
}
