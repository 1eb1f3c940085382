using System.Text.Json;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Tests;

public class IdentityGraphTests
{
    private static readonly IdentitySettings CrmUnique = new() { NamespacePriority = ["CRMID", "Email", "ECID"], UniqueNamespaces = ["CRMID"] };

    private static Identity Crm(string id) => new("CRMID", id);
    private static Identity Cookie(string id) => new("ECID", id);
    private static Identity Email(string id) => new("Email", id);

    private static IdentityLink Link(Identity a, Identity b, long time, long order = 0) => new(a, b, time, order);

    /// <summary>Each graph as "primary: identity,identity,…", in the order they are built.</summary>
    private static List<string> Graphs(IEnumerable<IdentityLink> links, IdentitySettings? settings = null, params Identity[] unlinked) =>
        IdentityGraphs.Build(links, unlinked, settings ?? IdentitySettings.Default)
            .Select(g => $"{g.Primary}: {string.Join(",", g.Identities)}").ToList();

    [Fact]
    public void Links_are_transitive_a_cookie_linked_to_a_crm_id_linked_to_an_email_is_one_person_keyed_by_the_crm_id()
    {
        // Namespace codes match the priority case-insensitively: "crmid" ranks as CRMID.
        var crm = new Identity("crmid", "u1");
        Assert.Equal(["crmid:u1: ECID:c1,Email:e1,crmid:u1"], Graphs([Link(Cookie("c1"), crm, 1), Link(crm, Email("e1"), 2)]));
    }

    [Fact]
    public void Two_devices_of_one_person_are_one_graph_and_unlinked_identities_are_graphs_of_their_own()
    {
        Assert.Equal(["CRMID:u1: CRMID:u1,ECID:c1,ECID:c2", "ECID:c9: ECID:c9"],
            Graphs([Link(Cookie("c1"), Crm("u1"), 1), Link(Cookie("c2"), Crm("u1"), 2)], null, Cookie("c9"), Cookie("c1")));
    }

    [Fact]
    public void A_shared_device_joins_two_people_without_a_unique_namespace_and_stays_with_the_newer_one_with_it()
    {
        IdentityLink[] links = [Link(Cookie("c1"), Crm("x"), 1), Link(Cookie("c1"), Crm("y"), 2)];
        // Without a unique namespace: one graph, keyed by the CRM id linked most recently.
        Assert.Equal(["CRMID:y: CRMID:x,CRMID:y,ECID:c1"], Graphs(links));
        // With CRMID unique, the older link goes: the cookie is Y's, X keeps their own graph.
        Assert.Equal(["CRMID:x: CRMID:x", "CRMID:y: CRMID:y,ECID:c1"], Graphs(links, CrmUnique));
        // A newer link moves the cookie again.
        Assert.Equal(["CRMID:x: CRMID:x,ECID:c1", "CRMID:y: CRMID:y"], Graphs([.. links, Link(Cookie("c1"), Crm("x"), 3)], CrmUnique));
    }

    [Fact]
    public void Within_one_ingest_time_the_later_record_of_the_batch_is_the_newer_link()
    {
        IdentityLink[] links = [Link(Cookie("c1"), Crm("x"), 5, order: 1), Link(Cookie("c1"), Crm("y"), 5, order: 0)];
        Assert.Equal(["CRMID:x: CRMID:x,ECID:c1", "CRMID:y: CRMID:y"], Graphs(links, CrmUnique));
    }

    [Fact]
    public void A_graph_holds_at_most_50_identities_and_its_oldest_links_are_the_ones_dropped()
    {
        var chain = Enumerable.Range(0, 60).Select(i => Cookie($"c{i:D2}")).ToList();
        var links = Enumerable.Range(0, 59).Select(i => Link(chain[i], chain[i + 1], time: i)).ToList();

        var graphs = IdentityGraphs.Build(links, [], IdentitySettings.Default);

        Assert.Equal([10, 50], graphs.Select(g => g.Identities.Count).Order());
        Assert.Equal(chain.Skip(10), graphs.Single(g => g.Identities.Count == 50).Identities);
        Assert.All(graphs, g => Assert.InRange(g.Identities.Count, 1, IdentityGraphs.MaxIdentities));
    }

    [Fact]
    public void A_new_batch_that_links_two_graphs_joins_them()
    {
        IdentityLink[] before = [Link(Cookie("c1"), Email("a"), 1), Link(Cookie("c2"), Crm("u"), 1)];
        Assert.Equal(2, Graphs(before).Count);
        Assert.Equal(["CRMID:u: CRMID:u,ECID:c1,ECID:c2,Email:a"], Graphs([.. before, Link(Email("a"), Crm("u"), 2)]));
    }

    [Fact]
    public void Between_identities_of_one_namespace_the_primary_is_the_most_recently_linked_then_the_first()
    {
        // a–b at 1, b–c at 2: b and c were linked last (by the same link), b comes first.
        Assert.Equal(["ECID:b: ECID:a,ECID:b,ECID:c"], Graphs([Link(Cookie("a"), Cookie("b"), 1), Link(Cookie("b"), Cookie("c"), 2)]));
        // An email ranks above any cookie; a namespace missing from the priority ranks below every listed one.
        Assert.Equal(["Email:z: ECID:a,Email:z,other:q"], Graphs([Link(Cookie("a"), new Identity("other", "q"), 3), Link(Cookie("a"), Email("z"), 1)]));
    }

    [Fact]
    public void The_graphs_do_not_depend_on_the_order_the_links_come_in()
    {
        var random = new Random(3);
        var people = Enumerable.Range(0, 40).Select(i => Crm($"p{i}")).ToList();
        var cookies = Enumerable.Range(0, 30).Select(i => Cookie($"k{i}")).ToList();
        var links = Enumerable.Range(0, 200).Select(i => Link(cookies[random.Next(cookies.Count)], people[random.Next(people.Count)], random.Next(20), random.Next(5))).ToList();
        foreach (var settings in new[] { IdentitySettings.Default, CrmUnique })
        {
            var expected = Graphs(links, settings);
            for (int shuffle = 0; shuffle < 5; shuffle++)
                Assert.Equal(expected, Graphs(links.OrderBy(_ => random.Next()).ToList(), settings));
            if (settings == CrmUnique) Assert.All(IdentityGraphs.Build(links, [], settings), g => Assert.True(g.Identities.Count(i => i.Namespace == "CRMID") <= 1));
        }
    }

    [Fact]
    public void A_record_links_every_identity_of_its_identity_map_to_every_other_one()
    {
        using var three = JsonDocument.Parse("""{"identityMap":{"ECID":[{"id":"c1"},{"id":"c1"}],"CRMID":[{"id":"u1","primary":true}],"Email":[{"id":"e1"}]}}""");
        var links = IdentityLink.Of(three.RootElement, 7, 2);
        Assert.Equal(["CRMID:u1-ECID:c1", "CRMID:u1-Email:e1", "ECID:c1-Email:e1"], links.Select(l => $"{l.A}-{l.B}"));
        Assert.All(links, l => Assert.Equal((7, 2), (l.IngestTimeMs, l.Order)));
        using var one = JsonDocument.Parse("""{"identityMap":{"ECID":[{"id":"c1"}]}}""");
        Assert.Empty(IdentityLink.Of(one.RootElement, 7, 0));
    }

    [Fact]
    public void Identity_settings_name_the_field_that_is_wrong()
    {
        static List<string> Fields(IdentitySettings? settings) => IdentitySettings.Check(settings).Items.Select(p => p.Field).ToList();
        Assert.Empty(Fields(IdentitySettings.Default));
        Assert.Empty(Fields(CrmUnique));
        Assert.Equal(["namespacePriority"], Fields(new IdentitySettings { UniqueNamespaces = ["CRMID"] }));
        Assert.Equal(["uniqueNamespaces[1]"], Fields(new IdentitySettings { NamespacePriority = ["CRMID"], UniqueNamespaces = ["Email", "CRM ID"] }));
        Assert.Contains("more than once", IdentitySettings.Check(new IdentitySettings { NamespacePriority = ["CRMID", "crmid"] }).Items.Single().Message);
        Assert.Equal(["namespacePriority"], Fields(new IdentitySettings { NamespacePriority = [.. Enumerable.Range(0, 65).Select(i => $"ns{i}")] }));
        Assert.Equal(["body"], Fields(null));
    }
}
