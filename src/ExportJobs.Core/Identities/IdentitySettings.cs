namespace ExportJobs.Core.Identities;

/// <summary>
/// A sandbox's identity graph linking rules: which namespaces rank first when a graph's primary identity is chosen,
/// and which namespaces a graph may hold at most one identity of. Namespace codes match case-insensitively (the
/// platform's codes are), identities themselves exactly as stored.
/// </summary>
public sealed record IdentitySettings
{
    /// <summary>
    /// Without settings of its own a sandbox has no unique namespace and this priority: people (CRMID, Email, Phone),
    /// then hardware devices (IDFA, GAID), then browsers (ECID, AAID) — lower cardinality first, as the platform
    /// orders them. A namespace not listed ranks below every listed one.
    /// </summary>
    public static readonly IdentitySettings Default = new()
    {
        NamespacePriority = ["CRMID", "Email", "Phone", "IDFA", "GAID", "ECID", "AAID"],
        UniqueNamespaces = [],
    };

    public const int MaxNamespaces = 64;

    public List<string>? NamespacePriority { get; init; }
    public List<string>? UniqueNamespaces { get; init; }

    /// <summary>The namespace's place in the priority (0 first); namespaces not listed after every listed one.</summary>
    public int RankOf(string ns)
    {
        var priority = NamespacePriority ?? [];
        for (int i = 0; i < priority.Count; i++)
            if (string.Equals(priority[i], ns, StringComparison.OrdinalIgnoreCase)) return i;
        return priority.Count;
    }

    public bool IsUnique(string ns) => (UniqueNamespaces ?? []).Any(u => string.Equals(u, ns, StringComparison.OrdinalIgnoreCase));

    private static string Shown(string? text) => text is null ? "null" : ShownText.Cut(text, 64);

    /// <summary>What is wrong with a <c>PUT /config/identitySettings</c> body, field by field.</summary>
    public static ProblemList Check(IdentitySettings? settings)
    {
        var problems = new ProblemList();
        if (settings is null)
        {
            problems.Add("body", "The body must be a JSON object with namespacePriority and uniqueNamespaces.");
            return problems;
        }
        Check("namespacePriority", settings.NamespacePriority, required: true);
        Check("uniqueNamespaces", settings.UniqueNamespaces, required: false);
        return problems;

        void Check(string field, List<string>? namespaces, bool required)
        {
            if (namespaces is null)
            {
                if (required) problems.Add(field, $"{field} is required: a list of identity namespace codes, most important first.");
                return;
            }
            int bad = namespaces.FindIndex(ns => !Ids.IsNamespace(ns));
            if (namespaces.Count > MaxNamespaces) problems.Add(field, $"{field} holds at most {MaxNamespaces} namespaces.");
            else if (bad >= 0)
                problems.Add($"{field}[{bad}]", $"'{Shown(namespaces[bad])}' is not a namespace code: 1 to 64 of [A-Za-z0-9._-].");
            else if (namespaces.GroupBy(ns => ns, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
                problems.Add(field, $"{field} names '{twice.Key}' more than once.");
        }
    }
}
