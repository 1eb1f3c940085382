using ExportJobs.Service.Identities;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace ExportJobs.Functions;

/// <summary>The export, segment job and background compaction orchestrations and their activities as Durable Functions: adapters onto the Service's workflow.</summary>
public sealed class ExportWorkflowFunctions(ExportJobSteps steps, CallbackNotifier notifier, BackgroundCompaction compaction, IdentityGraphBuilder graphs, SegmentJobSteps segmentJobs)
{
    [Function(TaskNames.ExportJobOrchestrator)]
    public static Task<string> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new ExportJobOrchestrator().RunAsync(context, context.GetInput<ExportJobInput>()!);

    [Function(TaskNames.PrepareExport)]
    public Task<ExportPlan> Prepare([ActivityTrigger] ExportJobInput input, CancellationToken ct) => steps.PrepareAsync(input, ct);

    [Function(TaskNames.ExportShard)]
    public Task<ShardResult> ExportShard([ActivityTrigger] ShardTask input, CancellationToken ct) => steps.ExportShardAsync(input, ct);

    [Function(TaskNames.RouteShards)]
    public Task<RouteResult> RouteShards([ActivityTrigger] ShardTask input, CancellationToken ct) => steps.RouteShardsAsync(input, ct);

    [Function(TaskNames.FinalizeExport)]
    public Task<string> Finalize([ActivityTrigger] FinalizeInput input, CancellationToken ct) => steps.FinalizeAsync(input, ct);

    [Function(TaskNames.FailExport)]
    public Task<string> Fail([ActivityTrigger] FailInput input, CancellationToken ct) => steps.FailAsync(input, ct);

    [Function(TaskNames.NotifyCallback)]
    public Task<bool> NotifyCallback([ActivityTrigger] ExportJobInput input, CancellationToken ct) => notifier.NotifyAsync(input, ct);

    [Function(TaskNames.CompactionOrchestrator)]
    public static Task<int> OrchestrateCompaction([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new CompactionOrchestrator().RunAsync(context, context.GetInput<CompactionInput>()!);

    [Function(TaskNames.CompactShard)]
    public Task<ShardCompaction> CompactShard([ActivityTrigger] ShardCompactionTask input, CancellationToken ct) => compaction.CompactShardAsync(input, ct);

    [Function(TaskNames.PrepareGraphBuild)]
    public Task<GraphBuildPlan> PrepareGraphBuild([ActivityTrigger] GraphBuildInput input, CancellationToken ct) => graphs.PrepareAsync(input, ct);

    [Function(TaskNames.GraphLinks)]
    public Task<int> GraphLinks([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.LinksAsync(input, ct);

    [Function(TaskNames.GraphRound)]
    public Task<int> GraphRound([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.RoundAsync(input, ct);

    [Function(TaskNames.GraphGroup)]
    public Task<int> GraphGroup([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.GroupAsync(input, ct);

    [Function(TaskNames.GraphRules)]
    public Task<int> GraphRules([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.RulesAsync(input, ct);

    [Function(TaskNames.CompleteGraphBuild)]
    public Task<bool> CompleteGraphBuild([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.CompleteAsync(input, ct);

    [Function(TaskNames.AbandonGraphBuild)]
    public Task<bool> AbandonGraphBuild([ActivityTrigger] GraphTask input, CancellationToken ct) => graphs.AbandonAsync(input, ct);

    [Function(TaskNames.SegmentJobOrchestrator)]
    public static Task<string> OrchestrateSegmentJob([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new SegmentJobOrchestrator().RunAsync(context, context.GetInput<SegmentJobInput>()!);

    [Function(TaskNames.PrepareSegmentJob)]
    public Task<SegmentJobPlan> PrepareSegmentJob([ActivityTrigger] SegmentJobInput input, CancellationToken ct) => segmentJobs.PrepareAsync(input, ct);

    [Function(TaskNames.EvaluateShards)]
    public Task<SegmentShardResult> EvaluateShards([ActivityTrigger] SegmentShardTask input, CancellationToken ct) => segmentJobs.EvaluateShardsAsync(input, ct);

    [Function(TaskNames.FinalizeSegmentJob)]
    public Task<string> FinalizeSegmentJob([ActivityTrigger] SegmentFinalizeInput input, CancellationToken ct) => segmentJobs.FinalizeAsync(input, ct);

    [Function(TaskNames.FailSegmentJob)]
    public Task<string> FailSegmentJob([ActivityTrigger] SegmentFailInput input, CancellationToken ct) => segmentJobs.FailAsync(input, ct);
}
