using System.Text.Json.Nodes;

namespace ExportJobs.TestSupport;

/// <summary>What a generated profile is after all its fragments: the model the tests check exports against.</summary>
public sealed record GeneratedProfile(
    int Index,
    string Namespace,
    string Id,
    string Email,
    string FirstName,
    long Points,
    IReadOnlyDictionary<string, string> SegmentStatus);

/// <summary>
/// Deterministic profiles split over two ingestion batches. Batch 1 holds every profile; batch 2 holds a newer
/// fragment for some of them that renames the person and moves them out of segment <c>seg-b</c>. The final state is
/// known from the generator's own model, not from merging JSON, so it checks the service's merge independently.
/// </summary>
public sealed class ProfileGenerator(int count)
{
    public static readonly string[] Segments = ["seg-a", "seg-b", "seg-c"];

    public IReadOnlyList<GeneratedProfile> Profiles { get; } = Enumerable.Range(0, count).Select(Model).ToList();

    private static string NamespaceOf(int i) => (i % 4) switch { 0 or 1 => "email", 2 => "ecid", _ => "phone" };
    private static string IdOf(int i) => NamespaceOf(i) switch { "email" => $"user{i}@example.com", "ecid" => $"{9000000000L + i}", _ => $"+1555{i:D7}" };
    private static bool HasNewerFragment(int i) => i % 3 == 1 || i % 7 == 0;

    private static GeneratedProfile Model(int i)
    {
        var segments = new Dictionary<string, string>();
        if (i % 2 == 0) segments["seg-a"] = "realized";
        if (i % 3 == 0) segments["seg-b"] = "realized";
        if (i % 3 == 1) segments["seg-b"] = "exited";
        if (i % 5 == 0) segments["seg-c"] = "realized";
        return new GeneratedProfile(i, NamespaceOf(i), IdOf(i), $"p{i}@example.com", $"First{i}", i * 10L, segments);
    }

    public IEnumerable<string> FirstBatchLines() => Profiles.Select(p =>
    {
        int i = p.Index;
        var membership = new JsonObject();
        foreach (var (segment, status) in p.SegmentStatus)
            membership[segment] = Membership(segment == "seg-b" && status == "exited" ? "realized" : status, i);
        return new JsonObject
        {
            ["identityMap"] = new JsonObject { [p.Namespace] = new JsonArray(new JsonObject { ["id"] = p.Id, ["primary"] = true }) },
            ["identities"] = new JsonArray(
                new JsonObject { ["id"] = p.Id, ["namespace"] = new JsonObject { ["code"] = p.Namespace } },
                new JsonObject { ["id"] = $"crm-{i}", ["namespace"] = new JsonObject { ["code"] = "crm" } }),
            ["personalEmail"] = new JsonObject { ["address"] = p.Email, ["status"] = "active" },
            ["person"] = new JsonObject { ["name"] = new JsonObject { ["firstName"] = HasNewerFragment(i) ? $"Old{i}" : p.FirstName, ["lastName"] = $"Last{i}" } },
            ["loyalty"] = new JsonObject { ["points"] = p.Points, ["tier"] = i % 2 == 0 ? "gold" : "silver" },
            ["segmentMembership"] = new JsonObject { ["ups"] = membership },
        }.ToJsonString();
    });

    public IEnumerable<string> SecondBatchLines() => Profiles.Where(p => HasNewerFragment(p.Index)).Select(p =>
    {
        var record = new JsonObject
        {
            ["identityMap"] = new JsonObject { [p.Namespace] = new JsonArray(new JsonObject { ["id"] = p.Id, ["primary"] = true }) },
            ["person"] = new JsonObject { ["name"] = new JsonObject { ["firstName"] = p.FirstName } },
        };
        if (p.SegmentStatus.TryGetValue("seg-b", out var status) && status == "exited")
            record["segmentMembership"] = new JsonObject { ["ups"] = new JsonObject { ["seg-b"] = Membership("exited", p.Index) } };
        return record.ToJsonString();
    });

    private static JsonObject Membership(string status, int i) => new()
    {
        ["status"] = status,
        ["lastQualificationTime"] = new DateTimeOffset(2018, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMinutes(i).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
    };

    public IEnumerable<GeneratedProfile> MembersOf(string segment, string status = "realized") =>
        Profiles.Where(p => p.SegmentStatus.TryGetValue(segment, out var s) && s == status);
}
