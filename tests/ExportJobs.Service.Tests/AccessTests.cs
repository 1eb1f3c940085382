using System.Security.Cryptography;
using System.Text;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Jobs;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace ExportJobs.Service.Tests;

/// <summary>Who gets in: every way a token, a client id or a tenant header can be wrong, against the real handler.</summary>
public class AccessTests
{
    private const string Org = "1BD6382559DF0C130A49422D@AdobeOrg";
    private const string OtherOrg = "OTHERORG@AdobeOrg";

    public static TheoryData<string, Action<HttpRequest>, int> Cases => new()
    {
        { "a valid token", _ => { }, 200 },
        { "no Authorization", r => r.Headers.Remove("Authorization"), 401 },
        { "Basic credentials", r => r.Headers.Authorization = "Basic dXNlcjpwYXNz", 401 },
        { "not a JWT", r => Bearer(r, "abc.def"), 401 },
        { "expired", r => Bearer(r, TestAccess.Token([Org], expires: DateTime.UtcNow.AddMinutes(-5))), 401 },
        { "not valid yet", r => Bearer(r, TestAccess.Token([Org], notBefore: DateTime.UtcNow.AddMinutes(10), expires: DateTime.UtcNow.AddHours(1))), 401 },
        { "wrong audience", r => Bearer(r, TestAccess.Token([Org], audience: "someone-else")), 401 },
        { "wrong issuer", r => Bearer(r, TestAccess.Token([Org], issuer: "https://evil.example/")), 401 },
        { "signed by another key", r => Bearer(r, TestAccess.Token([Org], key: new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key" })), 401 },
        { "alg none", r => Bearer(r, TestAccess.Unsigned([Org])), 401 },
        { "HMAC with a guessable secret", r => Bearer(r, TestAccess.Token([Org], key: new SymmetricSecurityKey(Encoding.UTF8.GetBytes(new string('k', 64))), algorithm: SecurityAlgorithms.HmacSha256)), 401 },
        { "no x-api-key", r => r.Headers.Remove(ApiAccess.ApiKeyHeader), 401 },
        { "x-api-key not allowed", r => r.Headers[ApiAccess.ApiKeyHeader] = "intruder", 401 },
        { "x-api-key of another client than the token's", r => r.Headers[ApiAccess.ApiKeyHeader] = TestAccess.OtherClientId, 401 },
        { "token without client claim and an allowed key", r => Bearer(r, TestAccess.Token([Org], clientId: null)), 200 },
        { "org claim does not grant the org", r => Bearer(r, TestAccess.Token([OtherOrg])), 403 },
        { "org claim as a space-separated list", r => Bearer(r, TestAccess.Token([$"{OtherOrg} {Org}"])), 200 },
        { "sandbox the org does not have", r => r.Headers[RequestReading.SandboxHeader] = "staging", 403 },
        { "malformed org header", r => r.Headers[RequestReading.OrgHeader] = "org'1", 400 },
    };

    private static void Bearer(HttpRequest request, string token) => request.Headers.Authorization = "Bearer " + token;

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Only_a_valid_token_for_the_tenant_gets_in(string name, Action<HttpRequest> spoil, int expected)
    {
        await using var harness = await ServiceHarness.StartAsync();
        var request = harness.Call.Request();
        spoil(request);
        var result = await harness.Get<ExportJobsHandler>().ListAsync(request, default);
        var (status, body) = await HandlerCall.ReadAsync(result, request.HttpContext);
        Assert.True(status == expected, $"{name}: expected {expected}, got {status}: {body?.ToJsonString()}");
        if (status == 401) Assert.Equal("Bearer", request.HttpContext.Response.Headers.WWWAuthenticate.ToString());
        if (status >= 400) Assert.False(string.IsNullOrEmpty((string?)body!["detail"]));
    }

    /// <summary>A token that passed is remembered, but the key and the tenant are still checked on each request, and it ends when it expires.</summary>
    [Fact]
    public async Task A_remembered_token_is_still_checked_per_request_and_ends_when_it_expires()
    {
        await using var harness = await ServiceHarness.StartAsync(services => services.Configure<ApiAccessOptions>(o => o.ClockSkewSeconds = 0));
        string token = TestAccess.Token([Org], expires: DateTime.UtcNow.AddSeconds(3));
        async Task<int> ListAsync(Action<HttpRequest> spoil)
        {
            var request = harness.Call.Request();
            Bearer(request, token);
            spoil(request);
            var (status, _) = await HandlerCall.ReadAsync(await harness.Get<ExportJobsHandler>().ListAsync(request, default), request.HttpContext);
            return status;
        }

        Assert.Equal(200, await ListAsync(_ => { }));
        Assert.Equal(200, await ListAsync(_ => { }));
        Assert.Equal(401, await ListAsync(r => r.Headers[ApiAccess.ApiKeyHeader] = "intruder"));
        Assert.Equal(403, await ListAsync(r => r.Headers[RequestReading.OrgHeader] = OtherOrg));
        Assert.Equal(401, await Poll.UntilAsync(() => ListAsync(_ => { }), status => status != 200, TimeSpan.FromSeconds(30), "the token to expire"));
    }

    [Fact]
    public void Start_up_refuses_an_access_configuration_that_checks_nothing()
    {
        var validator = new ApiAccessOptionsValidator([]);
        var result = validator.Validate(null, new ApiAccessOptions());
        Assert.True(result.Failed);
        Assert.Contains("Issuer", result.FailureMessage);
        Assert.Contains("AllowedClientIds", result.FailureMessage);
        Assert.Contains("SigningKeys", result.FailureMessage);
        Assert.False(validator.Validate(null, new ApiAccessOptions
        {
            Issuer = "i", Audience = "a", AllowedClientIds = ["c"], SigningKeys = [TestAccess.Key.Rsa.ExportSubjectPublicKeyInfoPem()],
        }).Failed);
    }
}
