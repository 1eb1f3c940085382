using System.Collections.Concurrent;
using Microsoft.IdentityModel.JsonWebTokens;

namespace ExportJobs.Service.Access;

/// <summary>Bearer tokens that passed validation, by their text, while they are within their lifetime (bounded in number).</summary>
internal sealed class ValidatedTokens
{
    private const int Capacity = 10_000;
    private readonly ConcurrentDictionary<string, JsonWebToken> _tokens = new(StringComparer.Ordinal);

    public JsonWebToken? Find(string raw)
    {
        if (!_tokens.TryGetValue(raw, out var token)) return null;
        var now = DateTime.UtcNow;
        if (token.ValidFrom <= now && now < token.ValidTo) return token;
        _tokens.TryRemove(raw, out _);
        return null;
    }

    public void Remember(string raw, JsonWebToken token)
    {
        if (_tokens.Count >= Capacity) _tokens.Clear();
        _tokens[raw] = token;
    }
}
