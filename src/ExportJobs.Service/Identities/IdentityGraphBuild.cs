using ExportJobs.Core.Identities;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A graph build a <c>pdg</c> export asks for; <c>RunId</c> names its work files (the export's job id); partitions are
/// grouped into activities of about <c>GroupBytes</c> of stored fragments (as an export's shards are).
/// </summary>
public sealed record GraphBuildInput(string OrgId, string Sandbox, string RunId, int MaxParallel, int Attempts, long GroupBytes)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>The build the tenant's data calls for, whether it is already whole, its partitions in groups (one activity each), by which settings.</summary>
public sealed record GraphBuildPlan(string Key, bool Complete, IReadOnlyList<int[]> Groups, IdentitySettings Settings);

/// <summary>One activity of a build: a group of partitions (in the links stage, of shards), the round, and the settings for the rules stage.</summary>
public sealed record GraphTask(string OrgId, string Sandbox, string Key, string RunId, int[] Partitions, int Round = 0, IdentitySettings? Settings = null)
{
    public Tenant Tenant => new(OrgId, Sandbox);
}

/// <summary>
/// Builds a tenant's identity graphs as of its data, unless a whole build of the same data and settings exists, and
/// returns the build's key (see <see cref="IdentityGraphBuilder"/> for the stages). Each stage is a fan-out of one
/// activity per group of partitions, at most <see cref="GraphBuildInput.MaxParallel"/> at once; rounds repeat until one
/// lowers no label. The history holds counts only. It runs within the export's orchestration, not as a
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

        GraphTask Task(int[] partitions, int round = 0, IdentitySettings? settings = null) =>
            new(input.OrgId, input.Sandbox, plan.Key, input.RunId, partitions, round, settings);
        var partitions = plan.Groups;
        try
        {
            await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphLinks, partitions.Select(p => Task(p)).ToList(), input.MaxParallel, options);
            int round = 0;
            while (true)
            {
                var lowered = await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphRound, partitions.Select(p => Task(p, round)).ToList(), input.MaxParallel, options);
                if (round > 0 && lowered.Results.Sum() == 0) break;
                round++;
            }
            await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphGroup, partitions.Select(p => Task(p, round)).ToList(), input.MaxParallel, options);
            await FanOut.RunAsync<GraphTask, int>(context, TaskNames.GraphRules, partitions.Select(p => Task(p, settings: plan.Settings)).ToList(), input.MaxParallel, options);
            await context.CallActivityAsync<bool>(TaskNames.CompleteGraphBuild, Task([]), options);
            return plan.Key;
        }
        catch (TaskFailedException)
        {
            await context.CallActivityAsync<bool>(TaskNames.AbandonGraphBuild, Task([]), options);
            throw;
        }
    }
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
