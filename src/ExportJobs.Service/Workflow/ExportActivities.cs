using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage.Profiles;
using Microsoft.DurableTask;

namespace ExportJobs.Service.Workflow;

// The activities as the Durable Task worker sees them, each a one-line adapter onto ExportJobSteps.
// (The Function App declares its own activity functions onto the same steps.)

[DurableTask(TaskNames.PrepareExport)]
public sealed class PrepareExportActivity(ExportJobSteps steps) : TaskActivity<ExportJobInput, ExportPlan>
{
    public override Task<ExportPlan> RunAsync(TaskActivityContext context, ExportJobInput input) => steps.PrepareAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.ExportShard)]
public sealed class ExportShardActivity(ExportJobSteps steps) : TaskActivity<ShardTask, ShardResult>
{
    public override Task<ShardResult> RunAsync(TaskActivityContext context, ShardTask input) => steps.ExportShardAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.RouteShards)]
public sealed class RouteShardsActivity(ExportJobSteps steps) : TaskActivity<ShardTask, RouteResult>
{
    public override Task<RouteResult> RunAsync(TaskActivityContext context, ShardTask input) => steps.RouteShardsAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.FinalizeExport)]
public sealed class FinalizeExportActivity(ExportJobSteps steps) : TaskActivity<FinalizeInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, FinalizeInput input) => steps.FinalizeAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.FailExport)]
public sealed class FailExportActivity(ExportJobSteps steps) : TaskActivity<FailInput, string>
{
    public override Task<string> RunAsync(TaskActivityContext context, FailInput input) => steps.FailAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.NotifyCallback)]
public sealed class NotifyCallbackActivity(CallbackNotifier notifier) : TaskActivity<ExportJobInput, bool>
{
    public override Task<bool> RunAsync(TaskActivityContext context, ExportJobInput input) => notifier.NotifyAsync(input, CancellationToken.None);
}

[DurableTask(TaskNames.CompactShard)]
public sealed class CompactShardActivity(BackgroundCompaction compaction) : TaskActivity<ShardCompactionTask, ShardCompaction>
{
    public override Task<ShardCompaction> RunAsync(TaskActivityContext context, ShardCompactionTask input) => compaction.CompactShardAsync(input, CancellationToken.None);
}

public static class ExportWorkflow
{
    /// <summary>Registers the orchestrations (export, segment job, background compaction) and their activities with a Durable Task worker.</summary>
    public static void Register(DurableTaskRegistry registry) => registry
        .AddOrchestrator<ExportJobOrchestrator>()
        .AddActivity<PrepareExportActivity>()
        .AddActivity<RouteShardsActivity>()
        .AddActivity<ExportShardActivity>()
        .AddActivity<FinalizeExportActivity>()
        .AddActivity<FailExportActivity>()
        .AddActivity<NotifyCallbackActivity>()
        .AddActivity<PrepareGraphBuildActivity>()
        .AddActivity<GraphLinksActivity>()
        .AddActivity<GraphRoundActivity>()
        .AddActivity<GraphGroupActivity>()
        .AddActivity<GraphRulesActivity>()
        .AddActivity<CompleteGraphBuildActivity>()
        .AddActivity<AbandonGraphBuildActivity>()
        .AddOrchestrator<Segments.SegmentJobOrchestrator>()
        .AddActivity<Segments.PrepareSegmentJobActivity>()
        .AddActivity<Segments.EvaluateShardsActivity>()
        .AddActivity<Segments.FinalizeSegmentJobActivity>()
        .AddActivity<Segments.FailSegmentJobActivity>()
        .AddOrchestrator<CompactionOrchestrator>()
        .AddActivity<CompactShardActivity>();
}
