using System.Text;

namespace ExportJobs.Core.Profiles;

/// <summary>Which shard of the profile store holds an identity: a stable FNV-1a hash, the same on every host and run.</summary>
public static class ShardRouter
{
    public static int ShardOf(Identity identity, int shardCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        // The UTF-8 of namespace, U+001F, id (namespaces are ASCII, so encoding the parts apart gives the same bytes).
        int most = Encoding.UTF8.GetMaxByteCount(identity.Namespace.Length + 1 + identity.Id.Length);
        Span<byte> text = most <= 1024 ? stackalloc byte[1024] : new byte[most];
        int length = Encoding.UTF8.GetBytes(identity.Namespace, text);
        text[length++] = 0x1f;
        length += Encoding.UTF8.GetBytes(identity.Id, text[length..]);
        uint hash = 2166136261;
        foreach (byte b in text[..length])
        {
            hash ^= b;
            hash *= 16777619;
        }
        return (int)(hash % (uint)shardCount);
    }
}
