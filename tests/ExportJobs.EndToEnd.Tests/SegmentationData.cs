using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// A deterministic population for segment evaluation: profiles whose attributes are often missing, and experience
/// events, generated around a given time. It writes the same people twice: as the service's NDJSON records, and as flat
/// NDJSON rows DuckDB reads for the independent computation.
/// </summary>
public sealed class SegmentationData
{
    public sealed record Person(
        string Email, string? FirstName, long? BirthYear, string? CountryCode, string? City, double? Points, string? Tier,
        List<string>? Interests, bool? Marketing, long? LastSeenMs, List<Event> Events);

    public sealed record Event(string Id, string EventType, long TimestampMs, double? Price);

    public static readonly string ProfileSchema = """
        {"type":"object","properties":{
          "personalEmail":{"type":"object","properties":{"address":{"type":"string"}}},
          "person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"}}},"birthYear":{"type":"integer"}}},
          "homeAddress":{"type":"object","properties":{"countryCode":{"type":"string"},"city":{"type":"string"}}},
          "loyalty":{"type":"object","properties":{"points":{"type":"number"},"tier":{"type":"string"}}},
          "interests":{"type":"array","items":{"type":"string"}},
          "consents":{"type":"object","properties":{"marketing":{"type":"boolean"}}},
          "lastSeen":{"type":"string","format":"date-time"}}}
        """;

    private static readonly string[] Names = ["Ann", "John", "Joan", "maria", "Jo", "Zoe", "Adam", "jonas"];
    private static readonly string[] Countries = ["US", "CA", "FR", "DE", "us"];
    private static readonly string[] Cities = ["New York", "Paris", "Berlin", "Newark", "Toronto"];
    private static readonly string[] Tiers = ["gold", "silver", "bronze", "Gold"];
    private static readonly string[] Topics = ["golf", "chess", "tennis", "music", "art"];
    private static readonly string[] EventTypes = ["view", "purchase", "cart", "refund"];

    public SegmentationData(int count, DateTimeOffset around)
    {
        var random = new Random(20261129);
        long now = around.ToUnixTimeMilliseconds();
        T? Maybe<T>(double missing, Func<T> value) => random.NextDouble() < missing ? default : value();
        for (int i = 0; i < count; i++)
        {
            var events = Enumerable.Range(0, random.Next(0, 7)).Select(e =>
            {
                string type = EventTypes[random.Next(EventTypes.Length)];
                return new Event($"ev-{i}-{e}", type, now - random.NextInt64(0, 40L * 86_400_000), type == "purchase" ? random.Next(10, 600) / 2.0 : null);
            }).ToList();
            People.Add(new Person(
                $"p{i:D4}@example.com",
                Maybe(0.1, () => Names[random.Next(Names.Length)]),
                Maybe(0.1, () => (long?)random.Next(1950, 2006)),
                Maybe(0.1, () => Countries[random.Next(Countries.Length)]),
                Maybe(0.1, () => Cities[random.Next(Cities.Length)]),
                Maybe(0.15, () => (double?)(random.Next(0, 10_000) / 2.0)),
                Maybe(0.1, () => Tiers[random.Next(Tiers.Length)]),
                Maybe(0.2, () => Topics.OrderBy(_ => random.Next()).Take(random.Next(0, 4)).ToList()),
                Maybe(0.2, () => (bool?)(random.Next(2) == 0)),
                Maybe(0.1, () => (long?)(now - random.NextInt64(0, 60L * 86_400_000))),
                events));
        }
    }

    public List<Person> People { get; } = [];

    public static string Rfc3339(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static JsonObject Identity(string email) => new() { ["email"] = new JsonArray(new JsonObject { ["id"] = email, ["primary"] = true }) };

    /// <summary>The profile records as the service ingests them: a missing value is a missing member.</summary>
    /// <summary>A profile dataset (with <see cref="ProfileSchema"/>) and an event dataset of the sandbox, fed with these people and their events; the profile dataset's id.</summary>
    public async Task<string> IngestAsync(HttpClient client)
    {
        var profiles = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets", new
        {
            name = "profiles", schema = new { name = "_xdm.context.profile", definition = JsonNode.Parse(ProfileSchema) }, profileEnabled = true,
        }), HttpStatusCode.Created))["id"]!;
        var events = (string)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("datasets",
            new { name = "events", schema = new { name = "_xdm.context.experienceevent" }, profileEnabled = true }), HttpStatusCode.Created))["id"]!;
        await LocalHostFixture.PostLinesAsync(client, profiles, ProfileLines(), gzip: false);
        await LocalHostFixture.PostLinesAsync(client, events, EventLines(), gzip: true);
        return profiles;
    }

    public IEnumerable<string> ProfileLines() => People.Select(p =>
    {
        var record = new JsonObject { ["identityMap"] = Identity(p.Email), ["personalEmail"] = new JsonObject { ["address"] = p.Email } };
        var person = new JsonObject();
        if (p.FirstName is not null) person["name"] = new JsonObject { ["firstName"] = p.FirstName };
        if (p.BirthYear is not null) person["birthYear"] = p.BirthYear;
        record["person"] = person;
        var address = new JsonObject();
        if (p.CountryCode is not null) address["countryCode"] = p.CountryCode;
        if (p.City is not null) address["city"] = p.City;
        record["homeAddress"] = address;
        var loyalty = new JsonObject();
        if (p.Points is not null) loyalty["points"] = p.Points;
        if (p.Tier is not null) loyalty["tier"] = p.Tier;
        record["loyalty"] = loyalty;
        if (p.Interests is not null) record["interests"] = new JsonArray(p.Interests.Select(t => (JsonNode?)t).ToArray());
        if (p.Marketing is not null) record["consents"] = new JsonObject { ["marketing"] = p.Marketing };
        if (p.LastSeenMs is not null) record["lastSeen"] = Rfc3339(p.LastSeenMs.Value);
        return record.ToJsonString();
    });

    public IEnumerable<string> EventLines() => People.SelectMany(p => p.Events.Select(e =>
    {
        var record = new JsonObject { ["identityMap"] = Identity(p.Email), ["_id"] = e.Id, ["eventType"] = e.EventType, ["timestamp"] = Rfc3339(e.TimestampMs) };
        if (e.Price is not null) record["commerce"] = new JsonObject { ["order"] = new JsonObject { ["priceTotal"] = e.Price } };
        return record.ToJsonString();
    }));

    /// <summary>Writes <c>profiles.json</c> and <c>events.json</c> (flat NDJSON) for DuckDB; returns the folder.</summary>
    public string WriteFlatFiles()
    {
        string folder = TemporaryFolders.Create("segmentation-model-");
        File.WriteAllLines(Path.Combine(folder, "profiles.json"), People.Select(p => new JsonObject
        {
            ["email"] = p.Email, ["firstName"] = p.FirstName, ["birthYear"] = p.BirthYear, ["countryCode"] = p.CountryCode, ["city"] = p.City,
            ["points"] = p.Points, ["tier"] = p.Tier, ["interests"] = p.Interests is null ? null : new JsonArray(p.Interests.Select(t => (JsonNode?)t).ToArray()),
            ["marketing"] = p.Marketing, ["lastSeenMs"] = p.LastSeenMs,
        }.ToJsonString()));
        File.WriteAllLines(Path.Combine(folder, "events.json"), People.SelectMany(p => p.Events.Select(e => new JsonObject
        {
            ["email"] = p.Email, ["eventType"] = e.EventType, ["tsMs"] = e.TimestampMs, ["price"] = e.Price,
        }.ToJsonString())).DefaultIfEmpty(""));
        return folder;
    }
}
