using System.Text;

namespace ExportJobs.Core.Profiles;

/// <summary>Which shard of the profile store holds an identity: a stable FNV-1a hash, the same on every host and run.</summary>
public static class ShardRouter
{
    public static int ShardOf(Identity identity, int shardCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(identity.Namespace + "\u001f" + identity.Id))
        {
            hash ^= b;
            hash *= 16777619;
        }
        return (int)(hash % (uint)shardCount);
    }
}
