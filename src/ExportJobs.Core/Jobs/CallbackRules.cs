using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace ExportJobs.Core.Jobs;

/// <summary>
/// Completion callbacks: where they may go, and how they are signed. A callback goes to an https URL on a named host
/// (no IP literal, no credentials in the URL), or — in local runs only — to a loopback address over http or https, so the
/// service cannot be made to post into a private network. Each post carries <c>X-Export-Timestamp</c> (Unix seconds) and
/// <c>X-Export-Signature: sha256={hex}</c>, the HMAC-SHA256 of <c>{timestamp}.{body}</c> keyed by the job's secret.
/// </summary>
public static class CallbackRules
{
    public const string TimestampHeader = "X-Export-Timestamp";
    public const string SignatureHeader = "X-Export-Signature";

    public static void Check(CallbackRequest callback, bool allowLoopback, ProblemList problems)
    {
        if (!Uri.TryCreate(callback.Url, UriKind.Absolute, out var url) || callback.Url!.Length > 2048)
            problems.Add("callback.url", "callback.url must be an absolute URL.");
        else if (!IsAllowed(url, allowLoopback))
            problems.Add("callback.url", allowLoopback
                ? "callback.url must be https on a named host, or a loopback address."
                : "callback.url must be https on a named host (no IP address, no credentials).");
        if (callback.Secret is not { Length: >= 16 and <= 256 })
            problems.Add("callback.secret", "callback.secret must be 16 to 256 characters.");
    }

    public static bool IsAllowed(Uri url, bool allowLoopback)
    {
        if (!string.IsNullOrEmpty(url.UserInfo) || url.Fragment.Length > 0) return false;
        if (url.IsLoopback) return allowLoopback && url.Scheme is "http" or "https";
        return url.Scheme == "https" && url.HostNameType == UriHostNameType.Dns && !IPAddress.TryParse(url.Host, out _);
    }

    public static string Sign(string secret, long timestamp, byte[] body)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        hmac.TransformBlock(Encoding.UTF8.GetBytes($"{timestamp}."), 0, Encoding.UTF8.GetByteCount($"{timestamp}."), null, 0);
        hmac.TransformFinalBlock(body, 0, body.Length);
        return "sha256=" + Convert.ToHexString(hmac.Hash!).ToLowerInvariant();
    }
}
