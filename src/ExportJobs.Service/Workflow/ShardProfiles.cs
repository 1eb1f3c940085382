using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage.Profiles;
using IdentityFragments = (ExportJobs.Core.Profiles.Identity Identity, System.Collections.Generic.List<ExportJobs.Core.Profiles.ProfileFragment> Fragments);
using IdentityWithEvents = (ExportJobs.Core.Profiles.Identity Identity, System.Collections.Generic.List<ExportJobs.Core.Profiles.ProfileFragment> Fragments,
    System.Collections.Generic.IReadOnlyList<ExportJobs.Core.Profiles.ProfileFragment> Events);

namespace ExportJobs.Service.Workflow;

/// <summary>
/// How a shard's profiles are read: by which merge rule; with segment evaluation, recording what changed as the
/// shard's fragments of <c>MembershipBatch</c> (and skipping that batch when reading, so that a retry reads what the
/// first try read); with events; with profiles of events alone; only <c>Members</c> of each record (null: all).
/// <c>Graphs</c>: the graph build of a <c>pdg</c> export, whose shard is then a partition of its shuffle, with the
/// fragments <c>Routes</c> moved to it (<see cref="GraphShuffle.ReadPartitionAsync"/>). <c>Prefilter</c>: the profiles
/// the caller would leave out anyway, left out before they are parsed (<see cref="MemberPrefilter"/>). <c>EventMembers</c>:
/// only those members of each event (null: all). <c>Listed</c>: shards' runs as the job's plan listed them, read as
/// they are (a shard not there is made ready to read and listed).
/// </summary>
public sealed record ShardReading(MergeRule Rule, SegmentEvaluation? Evaluation, string? MembershipBatch, long MembershipTime, bool WithEvents,
    bool EmptyProfiles, IReadOnlySet<string>? Members, string? Graphs = null, IReadOnlyList<string[]?>? Routes = null, MemberPrefilter? Prefilter = null,
    IReadOnlySet<string>? EventMembers = null, IReadOnlyDictionary<int, ListedShard>? Listed = null,
    IReadOnlyDictionary<string, FieldProjection>? PartlyRead = null);

/// <summary>
/// A merged profile of a shard, with its events, after segment evaluation; <c>Changed</c>: the memberships evaluation
/// changed, as recorded (<see cref="SegmentEvaluation.Apply"/>), or null.
/// </summary>
public readonly record struct ShardProfile(Identity Identity, MergedProfile Profile, IReadOnlyList<ProfileFragment> Events, JsonElement? Changed = null);

/// <summary>
/// The one path by which exports and segment jobs read a shard's profiles: compact the shard's fragment files when it
/// has too many (those background compaction has not merged yet), stream its profile fragments (and events) in identity
/// order through the host's <see cref="ShardReadGate"/>, merge each identity's fragments, and evaluate the segments, so
/// memberships are recorded the same way whoever asked for them.
/// </summary>
public sealed class ShardProfiles(ProfileStore store, ShardCompactor compactor, GraphShuffle shuffle, ShardReadGate gate)
{
    public async IAsyncEnumerable<ShardProfile> ReadAsync(Tenant tenant, int shard, ShardReading reading, [EnumeratorCancellation] CancellationToken ct)
    {
        using var read = reading.Graphs is null ? await gate.EnterAsync(ct) : await gate.EnterStitchedAsync(ct);
        await using var memberships = reading.MembershipBatch is null ? null
            : store.OpenShardWriter(FragmentKind.Profile, tenant, shard, SegmentEvaluation.MembershipDatasetId, reading.MembershipBatch, reading.MembershipTime, [ExportSelection.SegmentMembership]);
        // The build's tables load while the shard is made ready to read.
        var tables = reading.Graphs is null ? null : shuffle.TablesAsync(tenant, reading.Graphs, shard, ct);
        var listed = reading.Listed?.GetValueOrDefault(shard);
        string prefix = ProfileStore.ShardPrefix(tenant, shard);
        var profileRuns = listed is not null ? [.. listed.Profiles.Select(r => r.ToRun(prefix))]
            : await compactor.ReadyToReadAsync(FragmentKind.Profile, tenant, shard, ct);
        var eventRuns = !reading.WithEvents ? [] : listed?.Events is { } listedEvents ? [.. listedEvents.Select(r => r.ToRun(prefix))]
            : await compactor.ReadyToReadAsync(FragmentKind.Event, tenant, shard, ct);
        var (stitched, moved) = tables is null ? (null, null) : await tables;
        using var graphTable = stitched;
        using var movedTable = moved;
        using var identityMaps = stitched is null ? null : new GraphIdentities.Records(stitched);
        var profileStream = moved is null
            ? store.ReadRunsAsync(FragmentKind.Profile, profileRuns, ct, reading.MembershipBatch, MemberSelection.Of(reading.Members, reading.Prefilter?.IndexedMember, reading.PartlyRead),
                reading.Prefilter, mergedBy: reading.Rule)
            : shuffle.ReadPartitionAsync(FragmentKind.Profile, tenant, reading.Graphs!, reading.Routes ?? [], shard, profileRuns, moved, reading.MembershipBatch, reading.Members, reading.Prefilter, ct);
        var source = !reading.WithEvents ? new WithoutEvents(profileStream)
            : JoinAsync(profileStream, moved is null
                ? store.ReadRunsAsync(FragmentKind.Event, eventRuns, ct, members: MemberSelection.Of(reading.EventMembers))
                : shuffle.ReadPartitionAsync(FragmentKind.Event, tenant, reading.Graphs!, reading.Routes ?? [], shard, eventRuns, moved, null, reading.EventMembers, null, ct));
        await foreach (var (identity, fragments, events) in source)
        {
            if (fragments.Count == 0 && !reading.EmptyProfiles) continue;
            var profile = fragments.Count == 0 ? MergedProfile.Empty(identity) : reading.Rule.Merge(identity, fragments);
            using var identityMap = identityMaps?.Of(identity);
            if (identityMap is not null) profile.Stitch(identityMap.RootElement);
            var changed = reading.Evaluation is not null && fragments.Count > 0 ? reading.Evaluation.Apply(profile, events.Count == 0 ? [] : events.Select(e => MergedValue.Of(e.Record)).ToList()) : null;
            if (changed is { } record && memberships is not null) await memberships.AddAsync(identity, JsonMarshal.GetRawUtf8Value(record).ToArray(), ct);
            yield return new ShardProfile(identity, profile, events, changed);
        }
        if (memberships is not null) await memberships.CompleteAsync(ct);
    }

    /// <summary>The events of a profile that has none (most profiles of most exports): one list for all of them.</summary>
    private static readonly IReadOnlyList<ProfileFragment> NoEvents = [];

    /// <summary>Each identity with its profile fragments and its events: a merge join of two identity-ordered streams.</summary>
    private static async IAsyncEnumerable<IdentityWithEvents> JoinAsync(IAsyncEnumerable<IdentityFragments> profileStream, IAsyncEnumerable<IdentityFragments> eventStream)
    {
        await using var profiles = profileStream.GetAsyncEnumerator();
        await using var events = eventStream.GetAsyncEnumerator();
        bool hasProfile = await profiles.MoveNextAsync(), hasEvent = await events.MoveNextAsync();
        while (hasProfile || hasEvent)
        {
            int order = !hasEvent ? -1 : !hasProfile ? 1
                : IdentityKey.Compare(profiles.Current.Identity, events.Current.Identity);
            if (order < 0)
            {
                yield return (profiles.Current.Identity, profiles.Current.Fragments, NoEvents);
                hasProfile = await profiles.MoveNextAsync();
            }
            else if (order > 0)
            {
                yield return (events.Current.Identity, [], events.Current.Fragments);
                hasEvent = await events.MoveNextAsync();
            }
            else
            {
                yield return (profiles.Current.Identity, profiles.Current.Fragments, events.Current.Fragments);
                hasProfile = await profiles.MoveNextAsync();
                hasEvent = await events.MoveNextAsync();
            }
        }
    }

    /// <summary>
    /// Each identity with its profile fragments and no events, for a read without events (most exports): the profile
    /// stream's own steps, with no iterator of its own around them.
    /// </summary>
    private sealed class WithoutEvents(IAsyncEnumerable<IdentityFragments> profiles) : IAsyncEnumerable<IdentityWithEvents>
    {
        public IAsyncEnumerator<IdentityWithEvents> GetAsyncEnumerator(CancellationToken ct = default) =>
            new Enumerator(profiles.GetAsyncEnumerator(ct));

        private sealed class Enumerator(IAsyncEnumerator<IdentityFragments> profiles) : IAsyncEnumerator<IdentityWithEvents>
        {
            public IdentityWithEvents Current => (profiles.Current.Identity, profiles.Current.Fragments, NoEvents);

            public ValueTask<bool> MoveNextAsync() => profiles.MoveNextAsync();

            public ValueTask DisposeAsync() => profiles.DisposeAsync();
        }
    }
}
