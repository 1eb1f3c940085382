using ExportJobs.Service.Workflow;

namespace ExportJobs.Service.Tests;

public sealed class ShardGroupsTests
{
    private static readonly Dictionary<int, long> Sizes = new() { [0] = 3, [1] = 4, [2] = 10, [4] = 2, [5] = 1, [7] = 5 };

    [Fact]
    public void Consecutive_shards_share_a_group_up_to_the_bound_and_a_large_shard_is_alone()
    {
        var groups = ShardGroups.Of(Sizes.OrderBy(kv => kv.Key), maxBytes: 8);
        Assert.Equal([[0, 1], [2], [4, 5, 7]], groups);
    }

    [Fact]
    public void With_no_bound_every_shard_is_a_group_and_with_a_large_one_all_are_one()
    {
        Assert.Equal(Sizes.Keys.Order().Select(s => new[] { s }), ShardGroups.Of(Sizes.OrderBy(kv => kv.Key), maxBytes: 0));
        Assert.Equal([Sizes.Keys.Order().ToArray()], ShardGroups.Of(Sizes.OrderBy(kv => kv.Key), maxBytes: 25));
        Assert.Empty(ShardGroups.Of([], maxBytes: 8));
    }
}
