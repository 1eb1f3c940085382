using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Service.Storage.Output;
using ExportJobs.TestSupport;

namespace ExportJobs.Service.Tests;

/// <summary>Parts as DuckDB reads them back: every nesting of structs and lists, with the nulls and empties at each level.</summary>
public class PartFilesTests
{
    private static readonly string[] Records =
    [
        """{"id":1,"name":"a","tags":["x",null,"y"],"address":{"city":"L","lines":["l1"]},"orders":[{"sku":"s1","qty":2,"codes":["c1","c2"]},{"sku":"s2"}],"mixed":1,"matrix":[[1,2],[3]],"flag":true,"score":1.5}""",
        """{"id":2,"tags":[],"address":null,"orders":[],"mixed":"two","flag":false,"score":2}""",
        """{"name":"c","address":{"lines":[]},"orders":[{"codes":[]},null],"mixed":{"k":true},"matrix":[]}""",
        """{}""",
    ];

    [Fact]
    public async Task A_part_without_schema_types_each_path_from_its_values_and_keeps_every_null_and_empty()
    {
        var rows = await WriteAndReadAsync(null);

        Assert.Equal(
        [
            """{"address":{"city":"L","lines":["l1"]},"flag":true,"id":1,"matrix":["[1,2]","[3]"],"mixed":"1","name":"a","orders":[{"codes":["c1","c2"],"qty":2,"sku":"s1"},{"codes":null,"qty":null,"sku":"s2"}],"score":1.5,"tags":["x",null,"y"]}""",
            """{"address":null,"flag":false,"id":2,"matrix":null,"mixed":"two","name":null,"orders":[],"score":2.0,"tags":[]}""",
            """{"address":{"city":null,"lines":[]},"flag":null,"id":null,"matrix":[],"mixed":"{\"k\":true}","name":"c","orders":[{"codes":[],"qty":null,"sku":null},null],"score":null,"tags":null}""",
            """{"address":null,"flag":null,"id":null,"matrix":null,"mixed":null,"name":null,"orders":null,"score":null,"tags":null}""",
        ], rows);
    }

    [Fact]
    public async Task A_part_with_schema_has_its_columns_whatever_the_values()
    {
        var schema = SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{
              "id":{"type":"integer"},"when":{"type":"string","format":"date-time"},"extra":{},
              "orders":{"type":"array","items":{"type":"object","properties":{"sku":{"type":"string"},"codes":{"type":"array","items":{"type":"string"}}}}},
              "unused":{"type":"object","properties":{"deep":{"type":"array","items":{"type":"number"}}}}}}
            """), "schema", new ProblemList())!;

        var rows = await WriteAndReadAsync(schema,
            """{"id":7,"when":"2026-11-29T10:00:00Z","extra":{"any":[1]},"orders":[{"sku":"s1","codes":["c"]},{"codes":[]}]}""",
            """{"id":8,"when":"not a time","orders":null}""");

        Assert.Equal(
        [
            """{"extra":"{\"any\":[1]}","id":7,"orders":[{"codes":["c"],"sku":"s1"},{"codes":[],"sku":null}],"unused":null,"when":"2026-11-29 10:00:00"}""",
            """{"extra":null,"id":8,"orders":null,"unused":null,"when":null}""",
        ], rows);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_large_part_keeps_every_row_and_list_item(bool withSchema)
    {
        var schema = withSchema
            ? SchemaNode.Parse(JsonNode.Parse("""{"type":"object","properties":{"n":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}}}"""), "schema", new ProblemList())
            : null;
        static string Tags(int i) => string.Join(",", Enumerable.Range(0, i % 4).Select(t => "\"t" + t + "\""));
        var records = Enumerable.Range(0, 3_000).Select(i => "{\"n\":" + i + ",\"tags\":[" + Tags(i) + "]}").ToArray();

        var rows = await WriteAndReadAsync(schema, records);

        Assert.Equal(records.Select(r => JsonNode.Parse(r)!.ToJsonString()), rows);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_profile_is_written_as_its_fragments_merge(bool withSchema)
    {
        var profile = new MergedProfile(new Identity("email", "a@x.com"));
        string[] fragments =
        [
            """{"id":1,"name":"Chloé","address":{"city":"L","lines":["a"]},"tags":["x"],"note":{"t":1},"extra":{"a":1}}""",
            """{"name":null,"address":{"city":"Lisboa \"velha\"","zip":"1000"},"tags":["y","z"],"note":"text","extra":{"b":2}}""",
            """{"address":{"lines":null},"note":{"u":2},"score":2.5}""",
        ];
        for (int i = 0; i < fragments.Length; i++) profile.MergeNewer(new ProfileFragment(profile.Identity, i, "ds", "b", JsonElement.Parse(fragments[i])));
        var schema = withSchema ? SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{
              "id":{"type":"integer"},"name":{"type":"string"},"score":{"type":"number"},"note":{},"extra":{},
              "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"},"lines":{"type":"array","items":{"type":"string"}}}},
              "tags":{"type":"array","items":{"type":"string"}}}}
            """), "schema", new ProblemList()) : null;

        var rows = await WriteAndReadAsync(schema, [profile.Value]);

        Assert.Equal(withSchema
            ? """{"address":{"city":"Lisboa \"velha\"","lines":["a"],"zip":"1000"},"extra":"{\"a\":1,\"b\":2}","id":1,"name":"Chloé","note":"{\"u\":2}","score":2.5,"tags":["y","z"]}"""
            : """{"address":{"city":"Lisboa \"velha\"","lines":["a"],"zip":"1000"},"extra":{"a":1,"b":2},"id":1,"name":"Chloé","note":{"u":2},"score":2.5,"tags":["y","z"]}""",
            Assert.Single(rows));
    }

    [Theory]
    [InlineData("id,address.city")]
    [InlineData("address.geo.lat,name")]
    [InlineData("address")]
    [InlineData("address.geo,tags,extra")]
    public async Task Rows_written_unprojected_into_the_columns_of_their_fields_read_back_as_their_projections_do(string fields)
    {
        var schema = SchemaNode.Parse(JsonNode.Parse("""
            {"type":"object","properties":{
              "id":{"type":"integer"},"name":{"type":"string"},"extra":{},"tags":{"type":"array","items":{"type":"string"}},
              "address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"},
                "geo":{"type":"object","properties":{"lat":{"type":"number"},"lon":{"type":"number"}}}}}}}
            """), "schema", new ProblemList())!;
        var projection = FieldProjection.Parse(fields);
        var columns = projection.Project(schema);
        Assert.True(projection.ShreddedBy(columns));
        // Objects the fields keep nothing of (absent, empty, only other members, only nulls), and a leaf where an object belongs.
        var records = new[]
        {
            """{"id":1,"name":"a","address":{"city":"L","zip":"1","geo":{"lat":1.5,"lon":2}},"tags":["x"],"extra":{"k":1}}""",
            """{"id":2,"address":{"zip":"2","geo":{"lon":3}}}""",
            """{"address":{"city":null,"geo":{}},"tags":[]}""",
            """{"name":"d","address":{}}""",
            """{"address":"text","extra":null}""",
            """{"address":{"geo":{"lat":null,"lon":4}}}""",
            """{}""",
        }.Select(r => MergedValue.Of(JsonElement.Parse(r))).ToArray();

        var projected = await WriteAndReadAsync(columns, records.Select(r => MergedValue.Of(projection.Apply(r))).ToArray());
        var unprojected = await WriteAndReadAsync(columns, records, projection);

        Assert.Equal(projected, unprojected);
        Assert.Contains(projected, row => row.Contains(":null", StringComparison.Ordinal));
    }

    [Fact]
    public void A_part_counts_the_bytes_its_rows_hold_so_wide_rows_are_cut_sooner()
    {
        var schema = SchemaNode.Parse(JsonNode.Parse("""{"type":"object","properties":{"name":{"type":"string"},"n":{"type":"integer"}}}"""), "schema", new ProblemList())!;
        foreach (var part in new[] { PartRows.For(schema), PartRows.For(null) })
        {
            Assert.Equal(0, part.Bytes);
            part.Add(MergedValue.Of(JsonElement.Parse("""{"name":"ab","n":1}""")));
            long narrow = part.Bytes;
            Assert.True(narrow > 0);
            string wide = new('w', 1000);
            part.Add(MergedValue.Of(JsonElement.Parse($$"""{"name":"{{wide}}","n":2}""")));
            // The wide value's characters: two bytes each in a column of text, one each as JSON text.
            Assert.True(part.Bytes - narrow >= wide.Length, $"{part.Bytes - narrow} bytes for a row of {wide.Length} characters");
            part.Clear();
            Assert.Equal(0, part.Bytes);
        }
    }

    [Fact]
    public void Parts_of_several_batches_are_written_largest_first_once_together_they_hold_PartBytes()
    {
        var row = MergedValue.Of(JsonElement.Parse("""{"name":"abcdefgh"}"""));
        var probe = PartRows.For(null);
        probe.Add(row);
        long rowBytes = probe.Bytes;
        var pending = new PendingParts([PartRows.For(null), PartRows.For(null)], partRows: 100, partBytes: 3 * rowBytes);

        Assert.Equal(-1, pending.Add(0, row));
        Assert.Equal(-1, pending.Add(1, row));
        // Neither part holds PartBytes alone; together they do, and the larger is written.
        Assert.Equal(0, pending.Add(0, row));
        pending.Written(0);
        Assert.Equal(0, pending[0].Count);
        Assert.Equal(-1, pending.Add(0, row));
        Assert.Equal(1, pending.Add(1, row));
        pending.Written(1);
        // A written part's bytes no longer count towards another batch's.
        Assert.Equal(-1, pending.Add(0, row));
        // A part of PartRows rows is written whatever the bytes.
        var byRows = new PendingParts([PartRows.For(null)], partRows: 2, partBytes: long.MaxValue);
        Assert.Equal(-1, byRows.Add(0, row));
        Assert.Equal(0, byRows.Add(0, row));
    }

    [Fact]
    public async Task Parts_sharing_a_file_buffer_are_each_written_whole()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var files = harness.Get<DatasetBatchFiles>();
        using var buffer = new MemoryStream();
        var (large, small) = (PartRows.For(null, file: buffer), PartRows.For(null, file: buffer));
        for (int i = 0; i < 2_000; i++) large.Add(MergedValue.Of(JsonElement.Parse($$"""{"n":{{i}},"text":"{{Guid.NewGuid()}}"}""")));
        small.Add(MergedValue.Of(JsonElement.Parse("""{"n":-1}""")));
        // The smaller file is written after the larger into the same buffer: it must not carry the larger one's tail.
        await files.WritePartAsync(harness.Tenant, "out", "large", DatasetBatchFiles.PartName(0, 0), large, default);
        await files.WritePartAsync(harness.Tenant, "out", "small", DatasetBatchFiles.PartName(0, 0), small, default);

        long largeSize = (await files.ListAsync(harness.Tenant, "out", "large", default)).Single().Size;
        long smallSize = (await files.ListAsync(harness.Tenant, "out", "small", default)).Single().Size;
        Assert.True(smallSize < largeSize / 4, $"{smallSize} bytes for one row, {largeSize} for 2,000");
        Assert.Equal(["2000"], await QueryPartAsync(files, harness, "large", "select count(*)::varchar from read_parquet('{0}')"));
        Assert.Equal(["-1"], await QueryPartAsync(files, harness, "small", "select n::varchar from read_parquet('{0}')"));
    }

    private static async Task<List<string>> QueryPartAsync(DatasetBatchFiles files, ServiceHarness harness, string batch, string query)
    {
        string path = Path.Combine(Path.GetTempPath(), $"part-{Guid.NewGuid():N}.parquet");
        try
        {
            await using (var blob = (await files.OpenReadAsync(harness.Tenant, "out", batch, DatasetBatchFiles.PartName(0, 0), default))!)
            await using (var file = File.Create(path))
                await blob.CopyToAsync(file);
            return DuckDb.Query(string.Format(System.Globalization.CultureInfo.InvariantCulture, query, path)).Select(r => (string)r[0]!).ToList();
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static Task<List<string>> WriteAndReadAsync(SchemaNode? schema, params string[] records) =>
        WriteAndReadAsync(schema, (records.Length > 0 ? records : Records).Select(r => MergedValue.Of(JsonElement.Parse(r))).ToArray());

    /// <summary>Writes the rows as one part through the service's blob store and reads each row back as DuckDB's JSON.</summary>
    private static async Task<List<string>> WriteAndReadAsync(SchemaNode? schema, MergedValue[] rows, FieldProjection? unprojected = null)
    {
        await using var harness = await ServiceHarness.StartAsync();
        var files = harness.Get<DatasetBatchFiles>();
        var part = PartRows.For(schema, unprojected);
        foreach (var row in rows) part.Add(row);
        await files.WritePartAsync(harness.Tenant, "out", "b1", DatasetBatchFiles.PartName(0, 0), part, default);
        return await QueryPartAsync(files, harness, "b1", "select to_json(p)::varchar from read_parquet('{0}') p");
    }
}
