using ExportJobs.Core.Identities;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A graph build a <c>pdg</c> export asks for; <c>RunId</c> names its work files (the export's job id); the build has
/// one partition per group of shards of about <c>GroupBytes</c> of stored fragments (as an export groups them).
/// </summary>
public sealed record GraphBuildInput(string OrgId, string Sandbox, string RunId, int MaxParallel, int Attempts, long GroupBytes)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>
/// The build the tenant's data calls for, whether it is already whole, its shards in groups (one links activity each),
/// its partitions of identities (links, rounds, grouping) and of components (rules), and by which settings.
/// </summary>
public sealed record GraphBuildPlan(string Key, bool Complete, IReadOnlyList<int[]> ShardGroups, int Partitions, int RulesPartitions, IdentitySettings Settings);

/// <summary>
/// One activity of a build: its partition of <c>Partitions</c> (in the links stage, the index of its group of
/// <c>Shards</c>), the round, the settings for the rules stage, the seed of the identities' fingerprints, and for the
/// grouping the rules stage's partitions it sends components to.
/// </summary>
public sealed record GraphTask(string OrgId, string Sandbox, string Key, string RunId, int Partition, int Partitions, int[] Shards,
    int Round = 0, IdentitySettings? Settings = null, long Seed = 0, int RulesPartitions = 0)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>
/// Builds a tenant's identity graphs as of its data, unless a whole build of the same data and settings exists, and
/// returns the build's key (see <see cref="IdentityGraphBuilder"/> for the stages). Each stage is a fan-out of one
/// activity per partition, at most <see cref="GraphBuildInput.MaxParallel"/> at once; rounds repeat until one lowers no
/// label. The history holds counts only. It runs within the export's orchestration, not as a
/// sub-orchestration: the LocalHost's gRPC sidecar (Microsoft.DurableTask.InProcessTestHost 0.2.3-preview.1) hands a
/// sub-orchestration's tags to the Azure Storage backend as a protobuf map, which the backend cannot read back, and the
/// sub-orchestration never starts.
/// </summary>
public static class IdentityGraphBuild
{
    public static async Task<string> RunAsync(TaskOrchestrationContext context, GraphBuildInput input)
    {
        var options = TaskOptions.FromRetryPolicy(new RetryPolicy(input.Attempts, TimeSpan.FromSeconds(1)));
        var plan = await context.CallActivityAsync<GraphBuildPlan>(TaskNames.PrepareGraphBuild, input, options);
        if (plan.Complete) return plan.Key;

        // A plan made before builds had partitions of their own for the rules (an orchestration running across the
        // upgrade) has one partitioning for every stage.
        int rulesPartitions = plan.RulesPartitions > 0 ? plan.RulesPartitions : plan.Partitions;
        // A fingerprint shared by two identities (about one chance in a million at 5 M identities) starts the build
        // again under another seed.
        for (long seed = 0; ; seed++)
        {
            List<GraphTask> Stage(int round = 0) => Enumerable.Range(0, plan.Partitions)
                .Select(p => new GraphTask(input.OrgId, input.Sandbox, plan.Key, input.RunId, p, plan.Partitions, [], round, Seed: seed, RulesPartitions: rulesPartitions)).ToList();
            List<GraphTask> Rules() => Enumerable.Range(0, rulesPartitions)
                .Select(p => new GraphTask(input.OrgId, input.Sandbox, plan.Key, input.RunId, p, rulesPartitions, [], 0, plan.Settings, seed)).ToList();
            try
            {
                var links = plan.ShardGroups.Select((shards, group) => new GraphTask(input.OrgId, input.Sandbox, plan.Key, input.RunId, group, plan.Partitions, shards, Seed: seed)).ToList();
                await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphLinks, links, input.MaxParallel, options);
                int round = 0;
                while (true)
                {
                    var lowered = await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphRound, Stage(round), input.MaxParallel, options);
                    if (round > 0 && lowered.Results.Sum() == 0) break;
                    round++;
                }
                await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphGroup, Stage(round), input.MaxParallel, options);
                await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphRules, Rules(), input.MaxParallel, options);
                await context.CallActivityAsync<bool>(TaskNames.CompleteGraphBuild, Stage()[0], options);
                return plan.Key;
            }
            catch (TaskFailedException failure)
            {
                await context.CallActivityAsync<bool>(TaskNames.AbandonGraphBuild, Stage()[0], options);
                if (seed >= MaxSeeds - 1 || !failure.FailureDetails.IsCausedBy<IdentityGraphBuilder.FingerprintCollisionException>()) throw;
            }
        }
    }

    /// <summary>How many seeds a build tries before it fails.</summary>
    private const int MaxSeeds = 3;
}

[DurableTask(TaskNames.PrepareGraphBuild)]
public sealed class PrepareGraphBuildActivity(IdentityGraphBuilder builder) : TaskActivity<GraphBuildInput, GraphBuildPlan>
{
    public override Task<GraphBuildPlan> RunAsync(TaskActivityContext context, GraphBuildInput input) => builder.PrepareAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.GraphLinks)]
public sealed class GraphLinksActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, GraphTask input) => builder.LinksAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.GraphRound)]
public sealed class GraphRoundActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, GraphTask input) => builder.RoundAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.GraphGroup)]
public sealed class GraphGroupActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, GraphTask input) => builder.GroupAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.GraphRules)]
public sealed class GraphRulesActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, int>
{
    public override Task<int> RunAsync(TaskActivityContext context, GraphTask input) => builder.RulesAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.CompleteGraphBuild)]
public sealed class CompleteGraphBuildActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, GraphTask input) => builder.CompleteAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.AbandonGraphBuild)]
public sealed class AbandonGraphBuildActivity(IdentityGraphBuilder builder) : TaskActivity<GraphTask, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, GraphTask input) => builder.AbandonAsync(input, CancellationToken.None);
}
