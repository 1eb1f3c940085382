using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace ExportJobs.Functions;

/// <summary>The export and background compaction orchestrations and their activities as Durable Functions: adapters onto the Service's workflow.</summary>
public sealed class ExportWorkflowFunctions(ExportJobSteps steps, CallbackNotifier notifier, BackgroundCompaction compaction)
{
    [Function(TaskNames.ExportJobOrchestrator)]
    public static Task<string> Orchestrate([OrchestrationTrigger] TaskOrchestrationContext context) =>
        new ExportJobOrchestrator().RunAsync(context, context.GetInput<ExportJobInput>()!);

    [Function(TaskNames.PrepareExport)]
    public Task<ExportPlan> Prepare([ActivityTrigger] ExportJobInput input, CancellationToken ct) => steps.PrepareAsync(input, ct);

    [Function(TaskNames.ExportShard)]
    public Task<ShardResult> ExportShard([ActivityTrigger] ShardTask input, CancellationToken ct) => steps.ExportShardAsync(input, ct);

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
}
