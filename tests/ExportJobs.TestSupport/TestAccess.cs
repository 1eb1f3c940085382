using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ExportJobs.TestSupport;

/// <summary>The test identity provider: one RSA key whose public half the service is configured to trust, and tokens signed with it.</summary>
public static class TestAccess
{
    public const string Issuer = "https://idp.tests.local/";
    public const string Audience = "export-jobs-tests";
    public const string ClientId = "test-client";
    public const string OtherClientId = "other-client";
    public const string OrgClaim = "orgs";
    public static readonly string[] Sandboxes = ["prod", "dev", "paging", "deleting", "tenant-a", "tenant-b", "semantics", "schemas", "scheduled", "idem", "segmentation", "identities", "stitch-1", "stitch-2", "stitch-3", "stitch-4", "stitch-5", "stitch-6", "stitch-7", "stitch-8", "segment-jobs", "segment-list", "segment-schedule", "incremental", "console-jobs", "console-cancel", "console-segments", "console-config"];

    public static RsaSecurityKey Key { get; } = new(RSA.Create(2048)) { KeyId = "test-key" };

    public static Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ExportJobs:Access:Issuer"] = Issuer,
            ["ExportJobs:Access:Audience"] = Audience,
            ["ExportJobs:Access:SigningKeys:0"] = Key.Rsa.ExportSubjectPublicKeyInfoPem(),
            ["ExportJobs:Access:AllowedClientIds:0"] = ClientId,
            ["ExportJobs:Access:AllowedClientIds:1"] = OtherClientId,
            ["ExportJobs:Access:OrgClaim"] = OrgClaim,
            ["ExportJobs:Limits:MaxJsonBodyBytes"] = "65536",
            ["ExportJobs:Limits:MaxIngestBodyBytes"] = "16777216",
            ["LocalHost:DevelopmentTokens"] = "false",
        };
        for (int i = 0; i < Sandboxes.Length; i++) settings[$"ExportJobs:Access:DefaultSandboxes:{i}"] = Sandboxes[i];
        return settings;
    }

    /// <summary>A token; every part can be made wrong to test that it is refused.</summary>
    public static string Token(
        string[] orgs,
        string? clientId = ClientId,
        DateTime? expires = null,
        DateTime? notBefore = null,
        string issuer = Issuer,
        string audience = Audience,
        SecurityKey? key = null,
        string algorithm = SecurityAlgorithms.RsaSha256)
    {
        var claims = new Dictionary<string, object> { [OrgClaim] = orgs, ["sub"] = "tester" };
        if (clientId is not null) claims["azp"] = clientId;
        DateTime exp = expires ?? DateTime.UtcNow.AddHours(1);
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Expires = exp,
            NotBefore = notBefore ?? exp.AddHours(-2),
            IssuedAt = notBefore ?? exp.AddHours(-2),
            Claims = claims,
            SigningCredentials = new SigningCredentials(key ?? Key, algorithm),
        });
    }

    /// <summary>A token with <c>alg: none</c> and no signature.</summary>
    public static string Unsigned(string[] orgs)
    {
        static string Part(string json) => Base64UrlEncoder.Encode(json);
        long exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return $"{Part("""{"alg":"none","typ":"JWT"}""")}.{Part($$"""{"iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{exp}},"{{OrgClaim}}":["{{orgs[0]}}"],"azp":"{{ClientId}}"}""")}.";
    }
}
