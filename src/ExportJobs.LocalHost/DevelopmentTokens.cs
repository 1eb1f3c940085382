using System.Net;
using System.Security.Cryptography;
using ExportJobs.Core;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ExportJobs.LocalHost;

/// <summary>
/// Local runs only: a development signing key (made on first use, kept in <c>LocalHost:DevKeyPath</c>) that this host
/// trusts beside the configured keys, and <c>POST /dev/token?org=…</c>, answered on loopback only, to mint a token
/// with it. The Function App has neither, so it never accepts a token signed with this key.
/// </summary>
public sealed class DevelopmentTokens
{
    public const string Route = "/dev/token";
    public const string KeyId = "localhost-dev";

    private readonly RsaSecurityKey _key;

    private DevelopmentTokens(RsaSecurityKey key) => _key = key;

    public static DevelopmentTokens LoadOrCreate(string path)
    {
        var rsa = RSA.Create(2048);
        if (File.Exists(path)) rsa.ImportFromPem(File.ReadAllText(path));
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            File.WriteAllText(path, rsa.ExportPkcs8PrivateKeyPem());
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        return new DevelopmentTokens(new RsaSecurityKey(rsa) { KeyId = KeyId });
    }

    public TrustedSigningKey TrustedKey => new(_key, "LocalHost development key");

    public string Mint(ApiAccessOptions access, string org, string clientId, TimeSpan lifetime) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = access.Issuer,
            Audience = access.Audience,
            Expires = DateTime.UtcNow.Add(lifetime),
            Claims = new Dictionary<string, object> { [access.OrgClaim] = new[] { org }, ["client_id"] = clientId, ["sub"] = "local-developer" },
            SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
        });

    /// <summary><c>POST /dev/token?org={orgId}[&amp;client={clientId}][&amp;minutes=60]</c> → <c>{access_token, token_type, expires_in, client_id}</c>.</summary>
    public IResult Issue(HttpContext context, IOptions<ApiAccessOptions> access)
    {
        if (context.Connection.RemoteIpAddress is not { } remote || !IPAddress.IsLoopback(remote))
            return Problems.Forbidden("remote", "Development tokens are issued to loopback callers only.");
        string? org = context.Request.Query["org"];
        if (!Ids.IsOrgId(org)) return Problems.Invalid("org", "org must be an organisation id (1 to 64 characters of [A-Za-z0-9@._-]).");
        string client = context.Request.Query["client"].FirstOrDefault() ?? access.Value.AllowedClientIds.FirstOrDefault() ?? "local-client";
        int minutes = int.TryParse(context.Request.Query["minutes"], out int m) && m is > 0 and <= 1440 ? m : 60;
        string token = Mint(access.Value, org!, client, TimeSpan.FromMinutes(minutes));
        return Results.Json(new Dictionary<string, object> { ["access_token"] = token, ["token_type"] = "Bearer", ["expires_in"] = minutes * 60, ["client_id"] = client });
    }
}
