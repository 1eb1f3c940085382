using System.Runtime.CompilerServices;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// The identity links of one shard, for the graph build of <c>pdg</c> merge policies (see docs/identity.md): every
/// profile record and experience event of two or more identities links each two of them, as of its batch's ingest time
/// and its place in the batch. Read from the <c>identityMap</c> member column alone, so no link files are kept.
/// </summary>
public sealed class ShardLinks(ProfileStore store)
{
    private static readonly MemberSelection IdentityMapOnly = new(new HashSet<string> { IdentityMap.Member });

    public async IAsyncEnumerable<IdentityLink> ReadAsync(Tenant tenant, int shard, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var kind in new[] { FragmentKind.Profile, FragmentKind.Event })
            await foreach (var (_, fragments) in store.ReadShardAsync(kind, tenant, shard, ct, members: IdentityMapOnly))
                foreach (var fragment in fragments)
                    foreach (var link in IdentityLink.Of(fragment.Record, fragment.IngestTimeMs, fragment.Sequence))
                        yield return link;
    }
}
