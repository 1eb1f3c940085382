using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Tests;

public class SchemaTests
{
    private const string Person = """
        {"type":"object","required":["person"],"properties":{
          "person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"}}},"birth":{"type":"string","format":"date-time"}}},
          "loyalty":{"type":"object","properties":{"points":{"type":"integer"},"ratio":{"type":"number"},"member":{"type":"boolean"}}},
          "tags":{"type":"array","items":{"type":"string"}},
          "identities":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"}}}},
          "scores":{"type":"object","additionalProperties":{"type":"number"}},
          "extra":{}
        }}
        """;

    private static SchemaNode Parse(string json)
    {
        var problems = new ProblemList();
        var node = SchemaNode.Parse(JsonNode.Parse(json), "schema", problems);
        Assert.True(problems.IsEmpty, string.Join("; ", problems.Items.Select(p => $"{p.Field}: {p.Message}")));
        return node!;
    }

    [Theory]
    [InlineData("""{"type":"object"}""", "schema.properties")]
    [InlineData("""{"type":"string","format":"email"}""", "schema.format")]
    [InlineData("""{"type":"strin"}""", "schema.type")]
    [InlineData("""{"type":"array"}""", "schema.items")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"}},"required":["b"]}""", "schema.required")]
    [InlineData("""{"type":"object","properties":{"1a":{"type":"string"}}}""", "schema.properties.1a")]
    [InlineData("""{"type":"object","properties":{"a b":{"type":"string"}}}""", "schema.properties.a b")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","pattern":"x"}}}""", "schema.properties.a.pattern")]
    [InlineData("""{"type":"object","properties":{"a":{"oneOf":[]}}}""", "schema.properties.a.oneOf")]
    [InlineData("""[]""", "schema")]
    public void Unsupported_definitions_are_refused_with_their_path(string json, string path)
    {
        var problems = new ProblemList();
        SchemaNode.Parse(JsonNode.Parse(json), "schema", problems);
        Assert.Contains(problems.Items, p => p.Field == path);
    }

    [Theory]
    [InlineData("""{"person":{"name":{"firstName":"A"}},"loyalty":{"points":3,"ratio":0.5,"member":true},"tags":["x"],"scores":{"a":1.5},"extra":[1,{}]}""", null)]
    [InlineData("""{"loyalty":{"points":3}}""", "person: required.")]
    [InlineData("""{"person":{"name":{"firstName":5}}}""", "person.name.firstName: expected a string.")]
    [InlineData("""{"person":{"nickname":"x"}}""", "person.nickname: not in the schema.")]
    [InlineData("""{"person":{"birth":"yesterday"}}""", "person.birth: expected an RFC 3339 date-time string.")]
    [InlineData("""{"person":{},"loyalty":{"points":2.5}}""", "loyalty.points: expected an integer.")]
    [InlineData("""{"person":{},"loyalty":{"member":"yes"}}""", "loyalty.member: expected true or false.")]
    [InlineData("""{"person":{},"tags":["x",3]}""", "tags[1]: expected a string.")]
    [InlineData("""{"person":{},"identities":[{"id":"1"},{"id":"2","ns":"x"}]}""", "identities[1].ns: not in the schema.")]
    [InlineData("""{"person":{},"scores":{"a":"high"}}""", "scores.a: expected a number.")]
    [InlineData("""{"person":{},"[x":1}""", "[x: not in the schema.")]
    [InlineData("""{"pers\u006fn":{"name":{"first\u004eame":"A"}},"lo\u0079alty":{"points":3}}""", null)]
    [InlineData("""{"person":{"name":{"firstN\u0061me":7}}}""", "person.name.firstName: expected a string.")]
    [InlineData("""{"person":{"nick\u006eame":"x","名前":1}}""", "person.nickname: not in the schema.")]
    [InlineData("""{"person":{"名前":1}}""", "person.名前: not in the schema.")]
    [InlineData("""[1]""", ": expected an object.")]
    public void A_record_fits_or_the_first_misfit_is_named_by_its_path(string record, string? error) =>
        Assert.Equal(error, SchemaCheck.Of(Parse(Person), Encoding.UTF8.GetBytes(record)));

    [Theory]
    [InlineData("person.name.firstName", true)]
    [InlineData("identities.id", true)]
    [InlineData("scores.anything", true)]
    [InlineData("extra.deep.path", true)]
    [InlineData("person.name.lastName", false)]
    [InlineData("loyalty.points.value", false)]
    public void Paths_are_checked_against_the_schema(string path, bool known) =>
        Assert.Equal(known, Parse(Person).HasPath(path.Split('.')));

    [Theory]
    [InlineData(3)]
    [InlineData(40)]
    public void A_member_is_found_by_its_whole_name_in_objects_of_few_and_of_many_properties(int count)
    {
        var names = Enumerable.Range(0, count).Select(i => $"p{i}").ToList();
        var schema = Parse("""{"type":"object","properties":{""" + string.Join(",", names.Select(n => $$"""
            "{{n}}":{"type":"integer"}
            """)) + "}}");
        string last = names[^1];
        Assert.Null(SchemaCheck.Of(schema, Encoding.UTF8.GetBytes($$"""{"{{last}}":1,"p0":2}""")));
        Assert.Equal($"{last}: expected an integer.", SchemaCheck.Of(schema, Encoding.UTF8.GetBytes($$"""{"{{last}}":"x"}""")));
        Assert.Equal($"{last}x: not in the schema.", SchemaCheck.Of(schema, Encoding.UTF8.GetBytes($$"""{"{{last}}x":1}""")));
        Assert.Equal("p: not in the schema.", SchemaCheck.Of(schema, Encoding.UTF8.GetBytes("""{"p":1}""")));
    }

    [Fact]
    public void Property_names_take_dashes_and_a_leading_underscore()
    {
        var schema = Parse("""{"type":"object","properties":{"_tenant":{"type":"object","properties":{"loyalty-tier":{"type":"string"}}}}}""");
        Assert.True(schema.HasPath(["_tenant", "loyalty-tier"]));
        Assert.Null(SchemaCheck.Of(schema, Encoding.UTF8.GetBytes("""{"_tenant":{"loyalty-tier":"gold"}}""")));
    }

    [Fact]
    public void Unions_keep_every_property_and_widen_conflicts()
    {
        var a = Parse("""{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"string"}}}""");
        var b = Parse("""{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"boolean"},"z":{"type":"string"}}}""");
        var union = SchemaNode.Union(a, b);
        Assert.Equal(SchemaKind.Number, union.Properties["x"].Kind);
        Assert.Equal(SchemaKind.Any, union.Properties["y"].Kind);
        Assert.Equal(SchemaKind.String, union.Properties["z"].Kind);
    }

    [Fact]
    public void Projection_of_a_schema_keeps_what_projection_of_a_record_keeps()
    {
        var projected = FieldProjection.Parse("person.name.firstName,identities.id").Project(Parse(Person));
        Assert.Equal("""{"type":"object","properties":{"identities":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"}}}},"person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"}}}}}}}""",
            projected.ToJson().ToJsonString());
        Assert.Equal(projected.ToJson().ToJsonString(), SchemaNode.Parse(projected.ToJson(), "s", new ProblemList())!.ToJson().ToJsonString());
    }
}
