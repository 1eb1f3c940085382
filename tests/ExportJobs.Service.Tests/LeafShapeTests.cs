using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.Core.Schemas;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Tests;

/// <summary>A member's typed leaves: inferred from a sample of its values, filled by the values that fit, written back as they were.</summary>
public class LeafShapeTests
{
    private static readonly string[] Sample =
    [
        """{"address":"a@x.com","n":1,"score":1.5,"ok":true,"nested":{"deep":{"x":"é漢"}}}""",
        """{"n":-7,"score":3}""",
        "{}",
        """{"address":"b","nested":{"deep":{"x":"q"},"y":false}}""",
        """{"score":-0,"ok":false}""",
    ];

    private static ReadOnlyMemory<byte> Utf8(string json) => Encoding.UTF8.GetBytes(json);

    private static LeafShape Infer(params string[] values) => LeafShape.Infer(values.Select(Utf8)) ?? throw new InvalidOperationException("No shape.");

    private static string WrittenBack(LeafShape shape, LeafColumns columns, int row)
    {
        var text = new byte[shape.BoundOf(columns, row)];
        return Encoding.UTF8.GetString(text, 0, shape.AppendJson(columns, row, text));
    }

    [Fact]
    public void A_shape_has_a_typed_leaf_per_name_in_the_order_the_values_agree_on_and_values_that_fit_are_written_back_as_they_were()
    {
        var shape = Infer(Sample);
        Assert.Equal(
            [("address", LeafKind.String), ("n", LeafKind.Integer), ("score", LeafKind.Double), ("ok", LeafKind.Boolean), ("nested.deep.x", LeafKind.String), ("nested.y", LeafKind.Boolean)],
            shape.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
        var columns = new LeafColumns(shape, Sample.Length);
        for (int row = 0; row < Sample.Length; row++) Assert.True(shape.TryShred(Utf8(Sample[row]), columns, row), Sample[row]);
        for (int row = 0; row < Sample.Length; row++) Assert.Equal(Sample[row], WrittenBack(shape, columns, row));
    }

    [Fact]
    public void A_name_some_values_lack_takes_its_place_between_the_names_around_it_so_the_values_that_have_it_fit()
    {
        string[] values = ["""{"a":1,"c":{"y":2}}""", """{"a":1,"b":"x","c":{"x":1,"y":2}}""", """{"b":"z","c":{"x":0},"d":true}"""];
        var shape = Infer(values);
        Assert.Equal(["a", "b", "c.x", "c.y", "d"], shape.Leaves.Select(l => string.Join('.', l.Path)));
        var columns = new LeafColumns(shape, values.Length);
        for (int row = 0; row < values.Length; row++)
        {
            Assert.True(shape.TryShred(Utf8(values[row]), columns, row), values[row]);
            Assert.Equal(values[row], WrittenBack(shape, columns, row));
        }
    }

    [Theory]
    [InlineData("""{"address":"a\u0041"}""")] // a string with an escape
    [InlineData("""{"address":null}""")]
    [InlineData("""{"address":["a"]}""")]
    [InlineData("""{"n":1.0}""")] // an integer's column writes it back as 1
    [InlineData("""{"n":12345678901234567890}""")]
    [InlineData("""{"score":1e2}""")] // a number's column writes it back as 100
    [InlineData("""{"score":0.10}""")]
    [InlineData("""{"ok":"yes"}""")]
    [InlineData("""{"n":1,"address":"a"}""")] // out of the shape's order
    [InlineData("""{"address":"a","address":"b"}""")]
    [InlineData("""{"address":"a","other":1}""")]
    [InlineData("""{"nested":{}}""")] // an object below the member without a leaf
    [InlineData("""{"nested":{"deep":{}}}""")]
    [InlineData("""{"nested":"flat"}""")]
    [InlineData("""{"\u0061ddress":"a"}""")] // an escaped name
    [InlineData("\"text\"")]
    [InlineData("[1]")]
    public void A_value_that_does_not_fit_leaves_its_row_empty_and_keeps_its_text(string json)
    {
        var shape = Infer(Sample);
        var columns = new LeafColumns(shape, 1);
        Assert.True(shape.TryShred(Utf8("""{"address":"x","n":2,"score":2.5,"ok":true,"nested":{"deep":{"x":"y"},"y":true}}"""), columns, 0));
        Assert.False(shape.TryShred(Utf8(json), columns, 0));
        Assert.Equal("{}", WrittenBack(shape, columns, 0));
    }

    [Fact]
    public void A_name_of_two_types_or_both_an_object_and_a_value_is_left_out_and_an_integer_and_a_number_make_a_number()
    {
        var shape = Infer("""{"a":1,"b":"x","c":{"d":1},"v":1}""", """{"a":"s","b":"y","c":2,"v":2.5}""", """{"b":"w","v":3}""");
        Assert.Equal([("b", LeafKind.String), ("v", LeafKind.Double)], shape.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
        var columns = new LeafColumns(shape, 2);
        Assert.True(shape.TryShred(Utf8("""{"b":"z","v":1}"""), columns, 0));
        Assert.Equal("""{"b":"z","v":1}""", WrittenBack(shape, columns, 0));
        Assert.False(shape.TryShred(Utf8("""{"a":1,"b":"z"}"""), columns, 1));
    }

    [Fact]
    public void No_shape_comes_of_values_none_of_which_is_an_object_with_a_leaf_that_fits()
    {
        Assert.Null(LeafShape.Infer(new[] { "\"x\"", "[1]", "{}", """{"a":null}""", """{"a":[1]}""", """{"a":""", """{"a":1,"b":2,"a":3}""" }.Select(Utf8)));
        Assert.Null(LeafShape.Infer([]));
    }

    [Fact]
    public void A_shape_holds_at_most_so_many_names_and_so_deep_and_values_beyond_keep_their_text()
    {
        string wide = "{" + string.Join(",", Enumerable.Range(0, LeafShape.MaxNodes + 10).Select(i => $"\"k{i}\":{i}")) + "}";
        var shape = Infer(wide, """{"k0":0}""");
        Assert.Equal(LeafShape.MaxNodes, shape.Leaves.Count);
        Assert.False(shape.TryShred(Utf8(wide), new LeafColumns(shape, 1), 0));
        Assert.True(shape.TryShred(Utf8("""{"k0":0,"k63":63}"""), new LeafColumns(shape, 1), 0));

        string Deep(int levels) => string.Concat(Enumerable.Repeat("{\"d\":", levels)) + "1" + new string('}', levels);
        var deep = Infer(Deep(LeafShape.MaxDepth + 2), Deep(LeafShape.MaxDepth));
        Assert.Equal(LeafShape.MaxDepth, Assert.Single(deep.Leaves).Path.Length);
        Assert.False(deep.TryShred(Utf8(Deep(LeafShape.MaxDepth + 2)), new LeafColumns(deep, 1), 0));
    }

    [Fact]
    public void Declared_leaves_are_in_the_shape_whatever_the_values_hold_after_the_names_the_values_order_with_a_number_declared_making_integers_numbers()
    {
        string[] values = ["""{"b":{"y":1},"a":1}""", """{"b":{"y":2}}"""];
        LeafPath[] declared = [new(["a"], LeafKind.Double), new(["b", "x"], LeafKind.String), new(["b", "y"], LeafKind.Integer), new(["c"], LeafKind.Boolean)];
        var shape = LeafShape.Infer(values.Select(Utf8), declared)!;
        Assert.Equal([("b.y", LeafKind.Integer), ("b.x", LeafKind.String), ("a", LeafKind.Double), ("c", LeafKind.Boolean)],
            shape.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
        // What the values alone make: no leaf for the names they lack, and an integer column for a.
        Assert.Equal([("b.y", LeafKind.Integer), ("a", LeafKind.Integer)], Infer(values).Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));

        string[] later = ["""{"b":{"y":3,"x":"s"},"a":2.5,"c":true}""", """{"b":{"y":1},"a":1}"""];
        var columns = new LeafColumns(shape, later.Length);
        for (int row = 0; row < later.Length; row++)
        {
            Assert.True(shape.TryShred(Utf8(later[row]), columns, row), later[row]);
            Assert.Equal(later[row], WrittenBack(shape, columns, row));
        }

        // With no value, the declared leaves alone; declared and observed types that disagree leave the name out.
        Assert.Equal(["a", "b.x", "b.y", "c"], LeafShape.Infer([], declared)!.Leaves.Select(l => string.Join('.', l.Path)));
        var disagreeing = LeafShape.Infer(new[] { """{"a":"text","c":true}""" }.Select(Utf8), [new(["a"], LeafKind.Integer), new(["c", "d"], LeafKind.Boolean)]);
        Assert.Null(disagreeing);

        // Names a value could not have as written, and paths too deep, are not taken in (an empty name is written as it is).
        string tooDeep = string.Join(',', Enumerable.Repeat("d", LeafShape.MaxDepth + 1));
        Assert.Equal(["ok", ""], LeafShape.Infer([], [new(["q\"uote"], LeafKind.String), new(["back\\slash"], LeafKind.String), new(["tab\t"], LeafKind.String),
            new([new string('n', FragmentColumns.MaxMemberName + 1)], LeafKind.String), new(tooDeep.Split(','), LeafKind.String), new(["ok"], LeafKind.String),
            new([""], LeafKind.Integer)])!.Leaves.Select(l => string.Join('.', l.Path)));
    }

    [Fact]
    public void A_record_schema_declares_the_scalar_properties_below_each_object_member_as_leaves_and_files_shapes_declare_their_leaves()
    {
        var schema = SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{
              "person":{"type":"object","properties":{"name":{"type":"object","properties":{"first":{"type":"string"}}},"born":{"type":"string","format":"date-time"},
                "age":{"type":"integer"},"score":{"type":"number"},"vip":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}},
                "prefs":{"type":"object","additionalProperties":{"type":"string"}},"extra":{}}},
              "nickname":{"type":"string"},
              "counts":{"type":"object","additionalProperties":{"type":"integer"}}}}
            """), "schema", new ExportJobs.Core.ProblemList())!;
        var declared = LeafShape.DeclaredBy(schema);
        Assert.Equal(["person"], declared.Keys);
        Assert.Equal([("name.first", LeafKind.String), ("born", LeafKind.String), ("age", LeafKind.Integer), ("score", LeafKind.Double), ("vip", LeafKind.Boolean)],
            declared["person"].Select(l => (string.Join('.', l.Path), l.Kind)));

        var a = Infer("""{"x":1}""");
        var b = Infer("""{"x":1.5,"y":"s"}""");
        var fromFiles = LeafShape.DeclaredBy([(MemberName.Of("m"), a), (MemberName.Of("n"), null), (MemberName.Of("m"), b)]);
        Assert.Equal(["m"], fromFiles.Keys);
        Assert.Equal([("x", LeafKind.Double), ("y", LeafKind.String)], LeafShape.Infer([], fromFiles["m"])!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
    }

    [Fact]
    public void Shapes_named_in_a_files_metadata_read_back_and_metadata_naming_what_a_file_cannot_hold_is_refused()
    {
        var shapes = new[] { null, Infer(Sample), Infer("""{"v":1}""") };
        var read = FragmentColumns.ShapesOf(FragmentColumns.LeavesText(shapes), 3);
        Assert.Null(read[0]);
        Assert.Equal(shapes[1]!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)), read[1]!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
        Assert.Equal(shapes[2]!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)), read[2]!.Leaves.Select(l => (string.Join('.', l.Path), l.Kind)));
        Assert.Null(FragmentColumns.ShapesOf(null, 2)[1]);

        foreach (var hostile in new[]
        {
            """{"3":[["String","a"]]}""", """{"-1":[["String","a"]]}""", """{"0":[["Decimal","a"]]}""", """{"0":[["7","a"]]}""", """{"0":[["String"]]}""",
            """{"0":[["String","a"],["String","a","b"]]}""", """{"0":[["String","a"],["String","a"]]}""", """{"0":[["String","b","x"],["String","a"],["String","b","y"]]}""",
            """[]""",
        })
            Assert.ThrowsAny<Exception>(() => FragmentColumns.ShapesOf(hostile, 3));
    }
}
