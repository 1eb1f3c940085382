namespace ExportJobs.Service.Workflow;

/// <summary>How an export's shards are split among its activities.</summary>
public static class ShardGroups
{
    /// <summary>
    /// The shards (with their bytes, in shard order) in groups of consecutive shards of at most <paramref name="maxBytes"/>
    /// together; a shard larger than that is a group of its own, and with 0 every shard is.
    /// </summary>
    public static List<int[]> Of(IEnumerable<KeyValuePair<int, long>> shardBytes, long maxBytes)
    {
        var groups = new List<int[]>();
        var group = new List<int>();
        long bytes = 0;
        foreach (var (shard, size) in shardBytes)
        {
            if (group.Count > 0 && bytes + size > maxBytes)
            {
                groups.Add([.. group]);
                (group, bytes) = ([], 0);
            }
            group.Add(shard);
            bytes += size;
        }
        if (group.Count > 0) groups.Add([.. group]);
        return groups;
    }
}
