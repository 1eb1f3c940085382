using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace ExportJobs.Service.Access;

/// <summary>A signing key a host trusts beyond configuration (the LocalHost's development key). The Function App registers none.</summary>
public sealed record TrustedSigningKey(SecurityKey Key, string Origin);

/// <summary>Every key whose signature a token may carry: configured PEM keys, host-trusted keys, and the issuer's metadata keys.</summary>
public sealed class SigningKeyRing
{
    private readonly List<SecurityKey> _static;
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _metadata;

    public SigningKeyRing(IOptions<ApiAccessOptions> options, IEnumerable<TrustedSigningKey> trusted)
    {
        _static = options.Value.SigningKeys.Select(ParsePem).Concat(trusted.Select(t => t.Key)).ToList();
        if (!string.IsNullOrEmpty(options.Value.MetadataAddress))
            _metadata = new ConfigurationManager<OpenIdConnectConfiguration>(
                options.Value.MetadataAddress, new OpenIdConnectConfigurationRetriever(), new HttpDocumentRetriever { RequireHttps = true });
    }

    public bool HasAnySource => _static.Count > 0 || _metadata is not null;

    public async Task<IReadOnlyList<SecurityKey>> GetKeysAsync(CancellationToken ct)
    {
        if (_metadata is null) return _static;
        var configuration = await _metadata.GetConfigurationAsync(ct);
        return [.. _static, .. configuration.SigningKeys];
    }

    public static SecurityKey ParsePem(string pem)
    {
        if (pem.Contains("EC PUBLIC KEY", StringComparison.Ordinal) || pem.Contains("EC PRIVATE KEY", StringComparison.Ordinal))
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (ArgumentException)
        {
            var ec = ECDsa.Create();
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
    }
}

/// <summary>Refuses to start with an access configuration that would let nobody in, or anybody.</summary>
public sealed class ApiAccessOptionsValidator(IEnumerable<TrustedSigningKey> trusted) : IValidateOptions<ApiAccessOptions>
{
    public ValidateOptionsResult Validate(string? name, ApiAccessOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Issuer)) failures.Add($"{ApiAccessOptions.Section}:Issuer is required.");
        if (string.IsNullOrWhiteSpace(options.Audience)) failures.Add($"{ApiAccessOptions.Section}:Audience is required.");
        if (options.AllowedClientIds.Count == 0) failures.Add($"{ApiAccessOptions.Section}:AllowedClientIds must name at least one client.");
        if (options.SigningKeys.Count == 0 && string.IsNullOrEmpty(options.MetadataAddress) && !trusted.Any())
            failures.Add($"{ApiAccessOptions.Section}: give SigningKeys or a MetadataAddress, so that tokens can be checked.");
        if (string.IsNullOrWhiteSpace(options.OrgClaim)) failures.Add($"{ApiAccessOptions.Section}:OrgClaim is required.");
        foreach (string pem in options.SigningKeys)
        {
            try
            {
                SigningKeyRing.ParsePem(pem);
            }
            catch (Exception e) when (e is ArgumentException or CryptographicException)
            {
                failures.Add($"{ApiAccessOptions.Section}:SigningKeys has a key that is not a PEM RSA or EC public key.");
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
