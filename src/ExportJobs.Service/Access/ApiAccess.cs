using ExportJobs.Core;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ExportJobs.Service.Access;

/// <summary>
/// Decides who is calling and for which tenant, before anything is read or written:
/// a valid bearer token (issuer, audience, lifetime, signature) and an allowed <c>x-api-key</c> that matches the
/// token's client, or 401; then an organisation the token grants and a sandbox that organisation has, or 403.
/// A token's signature and claims are checked once and the token remembered until it expires (a client sends the same
/// token with every request); a signing key removed from the ring therefore stops new tokens at once and remembered ones
/// when they expire. The API key and the tenant are checked on every request.
/// </summary>
public sealed class ApiAccess(IOptions<ApiAccessOptions> options, SigningKeyRing keys)
{
    public const string ApiKeyHeader = "x-api-key";
    private static readonly string[] ClientClaims = ["client_id", "azp", "appid"];
    private static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    private readonly JsonWebTokenHandler _tokens = new() { MapInboundClaims = false };
    private readonly ValidatedTokens _validated = new();

    public async Task<(Tenant? Tenant, IResult? Problem)> AuthorizeAsync(HttpRequest request)
    {
        var o = options.Value;
        string? authorization = request.Headers.Authorization;
        if (string.IsNullOrEmpty(authorization) || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return (null, Problems.Unauthorized("Authorization: Bearer {token} is required."));

        string raw = authorization["Bearer ".Length..].Trim();
        var token = _validated.Find(raw);
        if (token is null)
        {
            var (validated, failure) = await ValidateAsync(raw, o, request.HttpContext.RequestAborted);
            if (validated is null) return (null, Problems.Unauthorized($"The bearer token is not valid: {Reason(failure)}"));
            token = validated;
        }

        string? apiKey = request.Headers[ApiKeyHeader];
        if (string.IsNullOrEmpty(apiKey) || !o.AllowedClientIds.Contains(apiKey, StringComparer.Ordinal))
            return (null, Problems.Unauthorized($"{ApiKeyHeader} must name an allowed client."));
        string? client = ClientClaims.Select(c => token.TryGetPayloadValue<string>(c, out var v) ? v : null).FirstOrDefault(v => v is not null);
        if (client is not null && client != apiKey)
            return (null, Problems.Unauthorized($"{ApiKeyHeader} is not the client the token was issued to."));

        if (!RequestReading.TryGetTenant(request, out var tenant, out var problem)) return (null, problem);
        if (!GrantedOrgs(token, o.OrgClaim).Contains(tenant.OrgId))
            return (null, Problems.Forbidden(RequestReading.OrgHeader, $"The token does not grant organisation '{tenant.OrgId}'."));
        if (!o.SandboxesOf(tenant.OrgId).Contains(tenant.Sandbox, StringComparer.Ordinal))
            return (null, Problems.Forbidden(RequestReading.SandboxHeader, $"Organisation '{tenant.OrgId}' has no sandbox '{tenant.Sandbox}'."));
        return (tenant, null);
    }

    /// <summary>Checks a token's issuer, audience, lifetime and signature; a valid one is remembered until it expires.</summary>
    private async Task<(JsonWebToken? Token, Exception? Failure)> ValidateAsync(string raw, ApiAccessOptions o, CancellationToken ct)
    {
        var validation = await _tokens.ValidateTokenAsync(raw, new TokenValidationParameters
        {
            ValidIssuer = o.Issuer,
            ValidAudience = o.Audience,
            IssuerSigningKeys = await keys.GetKeysAsync(ct),
            ValidAlgorithms = Algorithms,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(o.ClockSkewSeconds),
        });
        if (!validation.IsValid) return (null, validation.Exception);
        var token = (JsonWebToken)validation.SecurityToken;
        _validated.Remember(raw, token);
        return (token, null);
    }

    private static HashSet<string> GrantedOrgs(JsonWebToken token, string claim) =>
        token.Claims.Where(c => c.Type == claim)
            .SelectMany(c => c.Value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToHashSet(StringComparer.Ordinal);

    private static string Reason(Exception? e) => e switch
    {
        SecurityTokenExpiredException => "it has expired.",
        SecurityTokenNotYetValidException => "it is not valid yet.",
        SecurityTokenInvalidAudienceException => "it is not for this audience.",
        SecurityTokenInvalidIssuerException => "it is not from the trusted issuer.",
        SecurityTokenInvalidAlgorithmException => "its algorithm is not accepted.",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "its signature does not verify.",
        SecurityTokenNoExpirationException => "it has no expiry.",
        SecurityTokenMalformedException => "it is not a well-formed JWT.",
        _ => "it could not be validated.",
    };
}
