using ExportJobs.Service.Identities;

namespace ExportJobs.Service.Tests;

/// <summary>Round 0's adjacency of a partition's links, built in the room of the links' checks.</summary>
public class GraphAdjacencyTests
{
    [Fact]
    public void Identities_come_first_in_order_once_each_then_the_other_partitions_and_each_keeps_its_links_in_order()
    {
        // Links 5→3, 3→5, 5→9, 7→9, 5→1, 7→3 (fingerprints); 1 and 9 are identities of other partitions.
        var adjacency = IdentityGraphBuilder.Adjacency.Of([5, 3, 5, 7, 5, 7], [3, 5, 9, 9, 1, 3], [50, 30, 50, 70, 50, 70], seed: 1);

        Assert.Equal([3L, 5, 7, 1, 9], adjacency.Keys);
        Assert.Equal(3, adjacency.Nodes);
        Assert.Equal([0, 1, 4, 6], adjacency.Offsets);
        // 3: 5; 5: 3, 9, 1; 7: 9, 3 — as indexes into the keys.
        Assert.Equal([1, 0, 4, 3, 4, 0], adjacency.Targets);
        Assert.Equal(-1, adjacency.NodeOf(9));
    }

    [Fact]
    public void Two_identities_of_one_fingerprint_fail_the_build()
    {
        // 5 twice with two checks: two identities whose fingerprints under the seed are the same.
        var collision = Assert.Throws<IdentityGraphBuilder.FingerprintCollisionException>(() =>
            IdentityGraphBuilder.Adjacency.Of([5, 3, 5], [3, 5, 3], [50, 30, 51], seed: 1));
        Assert.Contains("0000000000000005", collision.Message);
    }
}
