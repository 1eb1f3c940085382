using System.Text;

namespace ExportJobs.Benchmarks;

/// <summary>
/// The benchmark's population, generated line by line from a fixed seed: every profile has a CRM record (dataset A,
/// about 450 bytes) and a loyalty record with its memberships in 5 segments (dataset B, about 350 bytes); every third a
/// preferences record (dataset C); with events, two experience events each. Each dataset has its schema.
/// </summary>
public static class BenchProfiles
{
    public static readonly string[] Segments = ["s1", "s2", "s3", "s4", "s5"];
    private static readonly string[] FirstNames = ["Ana", "Bo", "Chloé", "Dmitri", "Eun-ji", "Farid", "Grace", "Hiro"];
    private static readonly string[] Cities = ["Lisbon", "Berlin", "Toronto", "Osaka", "Lagos", "Lima"];

    private static string Identity(int i) => i % 4 == 3
        ? "{\"ecid\":[{\"id\":\"" + (90000000000L + i) + "\",\"primary\":true}]}"
        : "{\"email\":[{\"id\":\"user" + i + "@example.com\",\"primary\":true}]}";

    public static string Crm(int i)
    {
        var r = new Random(i);
        return "{\"identityMap\":" + Identity(i) +
               ",\"personalEmail\":{\"address\":\"user" + i + "@example.com\"}" +
               ",\"person\":{\"name\":{\"firstName\":\"" + FirstNames[r.Next(FirstNames.Length)] + "\",\"lastName\":\"Surname" + r.Next(100000) + "\"}" +
               ",\"birthDate\":\"" + (1950 + r.Next(55)) + "-0" + (1 + r.Next(9)) + "-1" + r.Next(10) + "\",\"gender\":\"" + (r.Next(2) == 0 ? "female" : "male") + "\"}" +
               ",\"homeAddress\":{\"street1\":\"" + r.Next(1, 999) + " Long Street Name\",\"city\":\"" + Cities[r.Next(Cities.Length)] + "\",\"postalCode\":\"" + r.Next(10000, 99999) + "\",\"countryCode\":\"PT\"}" +
               ",\"mobilePhone\":{\"number\":\"+3519" + r.Next(10000000, 99999999) + "\"}}";
    }

    public static string Loyalty(int i)
    {
        var r = new Random(i * 7 + 1);
        var memberships = new StringBuilder();
        foreach (var segment in Segments)
        {
            if (r.Next(3) == 0) continue;
            if (memberships.Length > 0) memberships.Append(',');
            memberships.Append('"').Append(segment).Append("\":{\"status\":\"").Append(r.Next(5) == 0 ? "exited" : "realized")
                .Append("\",\"lastQualificationTime\":\"2026-0").Append(1 + r.Next(9)).Append("-1").Append(r.Next(10)).Append("T10:00:00Z\"}");
        }
        string tier = r.Next(3) switch { 0 => "gold", 1 => "silver", _ => "bronze" };
        return "{\"identityMap\":" + Identity(i) +
               ",\"loyalty\":{\"points\":" + r.Next(100000) + ",\"tier\":\"" + tier + "\",\"memberSince\":\"20" + (10 + r.Next(15)) + "-01-01\"}" +
               ",\"consents\":{\"marketing\":{\"email\":{\"val\":\"" + (r.Next(2) == 0 ? "y" : "n") + "\"}}}" +
               ",\"segmentMembership\":{\"ups\":{" + memberships + "}}}";
    }

    public static string? Preferences(int i) => i % 3 != 0 ? null
        : "{\"identityMap\":" + Identity(i) + ",\"preferences\":{\"language\":\"pt-PT\",\"currency\":\"EUR\"},\"interests\":[\"running\",\"jazz\",\"cooking\"]}";

    // The datasets' XDM schemas, as the platform has one for every dataset: each record must fit its dataset's, and the
    // export's Parquet columns are their union (identityMap and segmentMembership are system fields).
    public const string CrmSchema = """
        {"type":"object","properties":{
          "personalEmail":{"type":"object","properties":{"address":{"type":"string"}}},
          "person":{"type":"object","properties":{"name":{"type":"object","properties":{"firstName":{"type":"string"},"lastName":{"type":"string"}}},"birthDate":{"type":"string"},"gender":{"type":"string"}}},
          "homeAddress":{"type":"object","properties":{"street1":{"type":"string"},"city":{"type":"string"},"postalCode":{"type":"string"},"countryCode":{"type":"string"}}},
          "mobilePhone":{"type":"object","properties":{"number":{"type":"string"}}}}}
        """;

    public const string LoyaltySchema = """
        {"type":"object","properties":{
          "loyalty":{"type":"object","properties":{"points":{"type":"integer"},"tier":{"type":"string"},"memberSince":{"type":"string"}}},
          "consents":{"type":"object","properties":{"marketing":{"type":"object","properties":{"email":{"type":"object","properties":{"val":{"type":"string"}}}}}}}}}
        """;

    public const string PreferencesSchema = """
        {"type":"object","properties":{
          "preferences":{"type":"object","properties":{"language":{"type":"string"},"currency":{"type":"string"}}},
          "interests":{"type":"array","items":{"type":"string"}}}}
        """;

    public const string EventSchema = """
        {"type":"object","properties":{"eventType":{"type":"string"},"web":{"type":"object","properties":{"webPageDetails":{"type":"object","properties":{"name":{"type":"string"}}}}}}}
        """;

    public static IEnumerable<string> Events(int i)
    {
        for (int e = 0; e < 2; e++)
            yield return "{\"identityMap\":" + Identity(i) + ",\"_id\":\"e" + i + "-" + e + "\",\"timestamp\":\"2026-11-0" + (1 + e) + "T12:00:00Z\"" +
                         ",\"eventType\":\"" + (e == 0 ? "web.webpagedetails.pageViews" : "commerce.purchases") + "\",\"web\":{\"webPageDetails\":{\"name\":\"home\"}}}";
    }
}
