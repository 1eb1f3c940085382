using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Identities;

/// <summary>One stitched profile: the identities of a graph, in identity order, and the one the profile is keyed by.</summary>
public sealed record IdentityGraph(Identity Primary, IReadOnlyList<Identity> Identities);

/// <summary>
/// Builds the graphs of a set of links (a connected component, or any set of them) by the sandbox's linking rules.
/// Links are taken newest first; a link joins two graphs unless the joined graph would hold two different identities
/// of one unique namespace, or more than <see cref="MaxIdentities"/> identities — then it is dropped, so where a graph
/// would break a rule its oldest links are the ones that go (the shared-device case: a cookie used by X, then by Y,
/// stays in Y's graph). A graph's primary is its identity of the highest-priority namespace; between identities of one
/// namespace, the most recently linked, then the first in identity order. The result depends on the links and the
/// settings only, not on the order they are given in.
/// </summary>
public static class IdentityGraphs
{
    public const int MaxIdentities = 50;

    public static List<IdentityGraph> Build(IEnumerable<IdentityLink> links, IEnumerable<Identity> unlinked, IdentitySettings settings)
    {
        var graphs = new Dictionary<Identity, Graph>();
        Graph GraphOf(Identity identity)
        {
            if (!graphs.TryGetValue(identity, out var graph)) graphs[identity] = graph = new Graph(identity, settings);
            return graph.Root();
        }

        var newestLink = new Dictionary<Identity, IdentityLink>();
        var ordered = links.ToList();
        ordered.Sort(IdentityLink.NewestFirst);
        foreach (var link in ordered)
        {
            Graph a = GraphOf(link.A), b = GraphOf(link.B);
            if (ReferenceEquals(a, b) || a.Conflicts(b)) continue;
            a.Join(b);
            newestLink.TryAdd(link.A, link);
            newestLink.TryAdd(link.B, link);
        }
        foreach (var identity in unlinked) GraphOf(identity);

        return graphs.Values.Where(g => g.IsRoot).Select(g => g.ToGraph(settings, newestLink))
            .OrderBy(g => g.Primary, IdentityKey.Order).ToList();
    }

    /// <summary>A graph being built: a union-find set of identities, with its identity of each unique namespace.</summary>
    private sealed class Graph(Identity first, IdentitySettings settings)
    {
        private Graph? _parent;
        private readonly List<Identity> _identities = [first];
        /// <summary>The graph's identity of each unique namespace; null while it has none (most graphs, without unique namespaces).</summary>
        private Dictionary<string, Identity>? _unique = settings.IsUnique(first.Namespace)
            ? new(StringComparer.OrdinalIgnoreCase) { [first.Namespace] = first }
            : null;

        public bool IsRoot => _parent is null;

        public Graph Root()
        {
            var root = this;
            while (root._parent is not null) root = root._parent;
            return root;
        }

        /// <summary>Whether joining would break a rule: too many identities, or two identities of a unique namespace.</summary>
        public bool Conflicts(Graph other) =>
            _identities.Count + other._identities.Count > MaxIdentities ||
            (_unique is not null && other._unique is not null && other._unique.Any(u => _unique.TryGetValue(u.Key, out var mine) && mine != u.Value));

        /// <summary>Takes the other graph in (at most <see cref="MaxIdentities"/> identities move, so no balancing is needed).</summary>
        public void Join(Graph other)
        {
            other._parent = this;
            _identities.AddRange(other._identities);
            if (other._unique is not null)
                foreach (var (ns, identity) in other._unique) (_unique ??= new(StringComparer.OrdinalIgnoreCase))[ns] = identity;
            other._identities.Clear();
        }

        public IdentityGraph ToGraph(IdentitySettings settings, Dictionary<Identity, IdentityLink> newestLink)
        {
            var identities = _identities.Order(IdentityKey.Order).ToList();
            var primary = identities[0];
            foreach (var identity in identities.Skip(1))
                if (Precedes(identity, primary)) primary = identity;
            return new IdentityGraph(primary, identities);

            bool Precedes(Identity x, Identity y)
            {
                int rank = settings.RankOf(x.Namespace).CompareTo(settings.RankOf(y.Namespace));
                if (rank != 0) return rank < 0;
                bool xLinked = newestLink.TryGetValue(x, out var xl), yLinked = newestLink.TryGetValue(y, out var yl);
                if (xLinked && yLinked && xl != yl) return xl.IsNewerThan(yl);
                return xLinked && !yLinked;
            }
        }
    }
}
