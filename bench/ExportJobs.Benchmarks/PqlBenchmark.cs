using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;

namespace ExportJobs.Benchmarks;

/// <summary>
/// How fast segment evaluation is: generated merged profiles with events (fixed seed), 20 definitions covering every
/// kind of construct, each compiled once; prints the parse+compile time, and profiles × definitions per second for the
/// bare conditions and for <see cref="SegmentEvaluation.Apply"/> (which also updates memberships), on one core.
/// </summary>
public static class PqlBenchmark
{
    private static readonly string[] Definitions =
    [
        "person.birthYear >= 1980",
        "homeAddress.countryCode = \"US\" and person.birthYear < 1990",
        "person.name.firstName like \"Jo%\"",
        "person.name.firstName.startsWith(\"jo\", false)",
        "homeAddress.city.contains(\"ew\")",
        "loyalty.tier.equals(\"gold\", false)",
        "personalEmail.address.matches(\"^p[0-9]*7@\")",
        "person.name.firstName.isNull()",
        "homeAddress.countryCode.in([\"US\", \"CA\"])",
        "interests.includes(\"golf\")",
        "interests.intersects([\"chess\", \"art\"])",
        "interests.count() >= 2",
        "loyalty.points > 2500 or consents.marketing",
        "lastSeen occurs <= 7 days before now",
        "xEvent.count() > 3",
        "exists X from xEvent where X.eventType = \"purchase\" and X.commerce.order.priceTotal > 200",
        "xEvent[eventType = \"purchase\"].commerce.order.priceTotal.sum() > 300",
        "(select X from xEvent where X.eventType = \"view\" and X.timestamp occurs <= 14 days before now).count() >= 2",
        "forall X from xEvent where X.eventType != \"refund\"",
        "person.birthYear >= 1970 and person.birthYear < 1980 and not interests.includes(\"golf\")",
    ];

    public static void Run(int count)
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        var (generated, generatedEvents) = Generate(count, now);
        // Read as evaluation reads them: through their documents.
        var profiles = generated.Select(p => MergedValue.Of(p)).ToList();
        var events = generatedEvents.Select(list => list.Select(e => MergedValue.Of(e)).ToList()).ToList();

        var compileTime = Stopwatch.StartNew();
        const int CompileRounds = 200;
        for (int round = 0; round < CompileRounds; round++)
            foreach (var text in Definitions) PqlCompiler.Compile(text);
        double compileUs = compileTime.Elapsed.TotalMicroseconds / (CompileRounds * Definitions.Length);
        var compiled = Definitions.Select(d => PqlCompiler.Compile(d)).ToArray();

        // Warm up, then measure the bare conditions.
        Evaluate(compiled, profiles.Take(1_000).ToList(), events, now);
        var watch = Stopwatch.StartNew();
        long qualified = Evaluate(compiled, profiles, events, now);
        double conditionRate = (double)count * compiled.Length / watch.Elapsed.TotalSeconds;

        var evaluation = SegmentEvaluation.Compile(Definitions.Select((d, i) => (Id: $"seg{i}", d)).ToDictionary(x => x.Id, x => x.d), now);
        var merged = profiles.Select((p, i) => Merged(i, p)).ToList();
        watch.Restart();
        long changed = 0;
        for (int i = 0; i < merged.Count; i++)
            if (evaluation.Apply(merged[i], events[i]) is not null) changed++;
        double applyRate = (double)count * compiled.Length / watch.Elapsed.TotalSeconds;

        Console.WriteLine($"PQL evaluation benchmark: {count:N0} profiles ({events.Sum(e => e.Count):N0} events), {Definitions.Length} definitions, 1 thread, {Environment.ProcessorCount} cores");
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| parse + compile, per definition | {compileUs:N1} µs |");
        Console.WriteLine($"| conditions only: profiles × definitions per second | {conditionRate:N0} |");
        Console.WriteLine($"| segment evaluation with membership updates: profiles × definitions per second | {applyRate:N0} |");
        Console.WriteLine($"| profiles evaluated per second (all {Definitions.Length} definitions) | {applyRate / Definitions.Length:N0} |");
        Console.WriteLine($"| qualifications (profile, definition) | {qualified:N0} of {(long)count * Definitions.Length:N0} |");
        Console.WriteLine($"| profiles whose memberships changed | {changed:N0} |");
    }

    private static long Evaluate(CompiledPql[] compiled, IReadOnlyList<MergedValue> profiles, List<List<MergedValue>> events, DateTimeOffset now)
    {
        long qualified = 0;
        for (int i = 0; i < profiles.Count; i++)
            foreach (var condition in compiled)
                if (condition.Qualifies(profiles[i], events[i], now)) qualified++;
        return qualified;
    }

    private static MergedProfile Merged(int i, MergedValue record)
    {
        var profile = new MergedProfile(new Identity("email", $"p{i}@example.com"));
        profile.MergeNewer(new ProfileFragment(profile.Identity, 1, "ds", "b", record.Element));
        return profile;
    }

    private static (List<JsonObject> Profiles, List<List<JsonObject>> Events) Generate(int count, DateTimeOffset now)
    {
        string[] names = ["Ann", "John", "Joan", "maria", "Jo", "Zoe"], countries = ["US", "CA", "FR", "DE"], cities = ["New York", "Paris", "Newark"];
        string[] tiers = ["gold", "silver", "Gold"], topics = ["golf", "chess", "tennis", "music", "art"], types = ["view", "purchase", "cart", "refund"];
        var random = new Random(42);
        var profiles = new List<JsonObject>(count);
        var events = new List<List<JsonObject>>(count);
        long nowMs = now.ToUnixTimeMilliseconds();
        string Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        for (int i = 0; i < count; i++)
        {
            var profile = (JsonObject)JsonNode.Parse($$"""
                {"personalEmail":{"address":"p{{i}}@example.com"},
                 "person":{"name":{"firstName":"{{names[random.Next(names.Length)]}}","lastName":"Doe{{i % 97}}"},"birthYear":{{random.Next(1950, 2006)}}},
                 "homeAddress":{"countryCode":"{{countries[random.Next(countries.Length)]}}","city":"{{cities[random.Next(cities.Length)]}}","street":"{{i}} Main Street"},
                 "loyalty":{"points":{{random.Next(0, 10_000) / 2.0}},"tier":"{{tiers[random.Next(tiers.Length)]}}"},
                 "interests":[{{string.Join(",", topics.OrderBy(_ => random.Next()).Take(random.Next(0, 4)).Select(t => $"\"{t}\""))}}],
                 "consents":{"marketing":{{(random.Next(2) == 0 ? "true" : "false")}}},
                 "lastSeen":"{{Time(nowMs - random.NextInt64(0, 60L * 86_400_000))}}"}
                """)!;
            profiles.Add(profile);
            events.Add(Enumerable.Range(0, random.Next(0, 7)).Select(e => new JsonObject
            {
                ["_id"] = $"ev-{i}-{e}",
                ["eventType"] = types[random.Next(types.Length)],
                ["timestamp"] = Time(nowMs - random.NextInt64(0, 40L * 86_400_000)),
                ["commerce"] = new JsonObject { ["order"] = new JsonObject { ["priceTotal"] = random.Next(10, 600) / 2.0 } },
            }).ToList());
        }
        return (profiles, events);
    }
}
