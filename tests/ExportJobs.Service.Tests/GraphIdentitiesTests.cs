using System.Text.Json;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Identities;

namespace ExportJobs.Service.Tests;

/// <summary>A graph's identities as its build keeps them give back, in an export, the <c>identityMap</c> record of the graph.</summary>
public class GraphIdentitiesTests
{
    [Fact]
    public void The_record_holds_every_identity_by_namespace_in_first_appearance_order_and_marks_the_primary()
    {
        var graph = new IdentityGraph(new("CRMID", "crm-1"),
            [new("ECID", "c2"), new("CRMID", "crm-1"), new("ECID", "c1"), new("Email", "é漢@example.com"), new("ECID", new string('x', 300))]);
        var graphs = new IdentityTable();
        graphs.AddValue(graph.Primary, GraphIdentities.Encode(graph));
        using var records = new GraphIdentities.Records(graphs);
        using var record = records.Of(graph.Primary);

        Assert.Equal(
            """{"identityMap":{"ECID":[{"id":"c2"},{"id":"c1"},{"id":"XS"}],"CRMID":[{"id":"crm-1","primary":true}],"Email":[{"id":"é漢@example.com"}]}}""".Replace("XS", new string('x', 300)),
            Json(record));
    }

    [Fact]
    public void An_identity_without_a_graph_is_a_record_of_itself_and_records_follow_each_other()
    {
        var graph = new IdentityGraph(new("CRMID", "crm-2"), [new("CRMID", "crm-2"), new("ECID", "c3")]);
        var graphs = new IdentityTable();
        graphs.AddValue(graph.Primary, GraphIdentities.Encode(graph));
        using var records = new GraphIdentities.Records(graphs);

        using (var alone = records.Of(new("ECID", "lonely")))
            Assert.Equal("""{"identityMap":{"ECID":[{"id":"lonely","primary":true}]}}""", Json(alone));
        using (var stitched = records.Of(graph.Primary))
            Assert.Equal("""{"identityMap":{"CRMID":[{"id":"crm-2","primary":true}],"ECID":[{"id":"c3"}]}}""", Json(stitched));
    }

    private static string Json(JsonDocument document) =>
        JsonSerializer.Serialize(document.RootElement, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
}
