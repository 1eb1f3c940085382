using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace ExportJobs.Core.Jobs;

/// <summary>
/// Where callbacks may go: <paramref name="AllowLoopback"/> lets a local run post to a loopback address (http or https,
/// any port); <paramref name="Ports"/> are the ports of other URLs (null: any, for the shape check alone).
/// </summary>
public sealed record CallbackPolicy(bool AllowLoopback, IReadOnlyCollection<int>? Ports)
{
    /// <summary>The shape of a callback, whatever the host allows (used where the host's policy is not known).</summary>
    public static readonly CallbackPolicy AnyHost = new(AllowLoopback: true, Ports: null);
}

/// <summary>
/// Completion callbacks: where they may go, and how they are signed. A callback URL is https on a fully qualified,
/// canonical public host name (no IP literal, no credentials, no fragment, no control characters; not a name reserved
/// for private use such as <c>localhost</c>, <c>*.internal</c> or <c>*.local</c>) and an allowed port. That is checked
/// when a job is created; where the service connects, the address the name resolves to is checked again
/// (<see cref="CallbackAddressRules"/>), so that a name pointing inside cannot be used. Each post carries
/// <c>X-Export-Timestamp</c> (Unix seconds) and <c>X-Export-Signature: sha256={hex}</c>, the HMAC-SHA256 of
/// <c>{timestamp}.{body}</c> keyed by the job's secret.
/// </summary>
public static partial class CallbackRules
{
    public const string TimestampHeader = "X-Export-Timestamp";
    public const string SignatureHeader = "X-Export-Signature";
    private const int MaxUrlLength = 2048;

    /// <summary>Name suffixes reserved for private networks and hosts' own names (RFC 6761, RFC 8375, cloud and cluster conventions).</summary>
    private static readonly string[] PrivateSuffixes = [".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".arpa", ".lan", ".intranet", ".corp", ".svc", ".test", ".invalid", ".example"];

    [GeneratedRegex("^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant)]
    private static partial Regex CanonicalHostName();

    public static void Check(CallbackRequest callback, CallbackPolicy policy, ProblemList problems)
    {
        if (Refusal(callback.Url, policy) is { } reason) problems.Add("callback.url", reason);
        if (callback.Secret is not { Length: >= 16 and <= 256 })
            problems.Add("callback.secret", "callback.secret must be 16 to 256 characters.");
    }

    /// <summary>Why a callback URL is refused under <paramref name="policy"/>, or null when it may be used.</summary>
    public static string? Refusal(string? text, CallbackPolicy policy)
    {
        if (string.IsNullOrEmpty(text) || text.Length > MaxUrlLength || text.Any(c => c <= ' ' || c >= '\x7f'))
            return $"callback.url must be an absolute URL of at most {MaxUrlLength} printable ASCII characters (no spaces or control characters).";
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url)) return "callback.url must be an absolute URL.";
        if (!string.IsNullOrEmpty(url.UserInfo) || url.Fragment.Length > 0) return "callback.url must not hold credentials or a fragment.";
        if (IsLoopback(url))
            return policy.AllowLoopback && url.Scheme is "http" or "https" ? null : "callback.url must not be a loopback address.";
        if (url.Scheme != "https") return "callback.url must be https.";
        string host = url.Host;
        if (url.HostNameType != UriHostNameType.Dns || IPAddress.TryParse(host.Trim('[', ']'), out _))
            return "callback.url must name its host (no IP address).";
        // The host as written must be the host as parsed: no escapes, upper case, trailing dot, or IDN forms to reinterpret.
        if (!CanonicalHostName().IsMatch(host) || !text.Contains("://" + host, StringComparison.Ordinal) || host.Length > 253)
            return "callback.url must name a fully qualified host in lower-case letters, digits, '-' and '.', without a trailing dot.";
        if (PrivateSuffixes.Any(suffix => host.EndsWith(suffix, StringComparison.Ordinal)))
            return "callback.url must name a public host, not one reserved for private networks.";
        if (policy.Ports is { } ports && !ports.Contains(url.Port))
            return $"callback.url must use port {string.Join(" or ", ports)}.";
        return null;
    }

    /// <summary>A loopback name or address, written plainly (an IPv4-mapped IPv6 loopback is not taken as one: it is refused as an IP literal).</summary>
    private static bool IsLoopback(Uri url) =>
        url.IsLoopback && !(IPAddress.TryParse(url.Host.Trim('[', ']'), out var address) && address.IsIPv4MappedToIPv6) ||
        url.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || url.Host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase);

    public static string Sign(string secret, long timestamp, byte[] body)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        hmac.TransformBlock(Encoding.UTF8.GetBytes($"{timestamp}."), 0, Encoding.UTF8.GetByteCount($"{timestamp}."), null, 0);
        hmac.TransformFinalBlock(body, 0, body.Length);
        return "sha256=" + Convert.ToHexString(hmac.Hash!).ToLowerInvariant();
    }
}
