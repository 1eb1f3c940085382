using System.Text.Json.Nodes;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// A fixed-seed population for the filter and merge tests, with its expected outcomes computed here from the model,
/// never by the service's code. Every profile has a fragment in dataset A (batch A1, with its segment memberships);
/// some have a later one in dataset B and some a still later one in A (batch A2), each naming the person differently,
/// so the merge policies disagree about the name.
/// </summary>
public sealed class SemanticsData
{
    public static readonly string[] Segments = ["s1", "s2", "s3"];

    public sealed record Membership(string Namespace, string Segment, string Status, DateTimeOffset Qualified);

    /// <summary>An experience event, ingested in batch 1 or 2 of the event dataset.</summary>
    public sealed record Event(string Id, DateTimeOffset Timestamp, string Type, int Batch);

    public sealed record Person(int Index, string Email, string NameA1, string? NameB, string? NameA2, IReadOnlyList<Membership> Memberships)
    {
        public List<Event> Events { get; } = [];

        public bool InB => NameB is not null;
        public bool InA2 => NameA2 is not null;
    }

    public IReadOnlyList<Person> People { get; }

    /// <summary>Identities that have events and no profile record: the "empty profiles".</summary>
    public IReadOnlyList<(string Email, List<Event> Events)> Ghosts { get; }

    public SemanticsData(int count, int seed = 20261128)
    {
        var random = new Random(seed);
        var start = new DateTimeOffset(2018, 1, 1, 0, 0, 0, TimeSpan.Zero);
        People = Enumerable.Range(0, count).Select(i =>
        {
            var memberships = new List<Membership>();
            foreach (string segment in Segments)
                if (random.NextDouble() < 0.6)
                    memberships.Add(new Membership("ups", segment, random.NextDouble() < 0.7 ? "realized" : "exited", start.AddHours(random.Next(0, 24 * 90))));
            if (random.NextDouble() < 0.2) memberships.Add(new Membership("aam", "s1", "realized", start.AddHours(random.Next(0, 24 * 90))));
            return new Person(i, $"person{i}@example.com", $"A1-{i}",
                random.NextDouble() < 0.5 ? $"B-{i}" : null,
                random.NextDouble() < 0.3 ? $"A2-{i}" : null,
                memberships);
        }).ToList();

        List<Event> Events(string owner)
        {
            var events = new List<Event>();
            for (int k = 0, n = random.Next(0, 4); k < n; k++)
                events.Add(new Event($"{owner}-e{k}", start.AddMinutes(random.Next(0, 60 * 24 * 90)), random.NextDouble() < 0.5 ? "web.pageView" : "commerce.purchase", random.Next(1, 3)));
            return events;
        }
        foreach (var person in People) person.Events.AddRange(Events($"p{person.Index}"));
        Ghosts = Enumerable.Range(0, 40).Select(g => ($"ghost{g}@example.com", Events($"g{g}"))).Where(g => g.Item2.Count > 0).ToList();
    }

    public IEnumerable<string> EventLines(int batch) =>
        People.SelectMany(p => p.Events.Select(e => (p.Email, e))).Concat(Ghosts.SelectMany(g => g.Events.Select(e => (g.Email, e))))
            .Where(x => x.e.Batch == batch)
            .Select(x => new JsonObject
            {
                ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = x.Email, ["primary"] = true }) },
                ["_id"] = x.e.Id,
                ["timestamp"] = x.e.Timestamp.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
                ["eventType"] = x.e.Type,
                ["web"] = new JsonObject { ["webPageDetails"] = new JsonObject { ["name"] = "page-" + x.e.Id } },
            }.ToJsonString());

    public IEnumerable<string> A1Lines() => People.Select(p =>
    {
        var membership = new JsonObject();
        foreach (var group in p.Memberships.GroupBy(m => m.Namespace))
            membership[group.Key] = new JsonObject(group.Select(m => KeyValuePair.Create(m.Segment, (JsonNode?)new JsonObject
            {
                ["status"] = m.Status,
                ["lastQualificationTime"] = m.Qualified.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"),
            })));
        return Record(p, p.NameA1, extra: r => r["segmentMembership"] = membership);
    });

    public IEnumerable<string> BLines() => People.Where(p => p.InB).Select(p => Record(p, p.NameB!));

    public IEnumerable<string> A2Lines() => People.Where(p => p.InA2).Select(p => Record(p, p.NameA2!));

    private static string Record(Person p, string name, Action<JsonObject>? extra = null)
    {
        var record = new JsonObject
        {
            ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = p.Email, ["primary"] = true }) },
            ["personalEmail"] = new JsonObject { ["address"] = p.Email },
            ["person"] = new JsonObject { ["name"] = new JsonObject { ["firstName"] = name } },
        };
        extra?.Invoke(record);
        return record.ToJsonString();
    }

    /// <summary>The merged first name: batches were ingested A1, then B, then A2.</summary>
    public static string NameBy(Person p, string policy) => policy switch
    {
        "timestampOrdered" => p.NameA2 ?? p.NameB ?? p.NameA1,
        "A-over-B" => p.NameA2 ?? p.NameA1,
        "B-over-A" => p.NameB ?? p.NameA2 ?? p.NameA1,
        _ => throw new ArgumentOutOfRangeException(nameof(policy)),
    };
}
