using ExportJobs.Core.Segments;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Workflow;
using Microsoft.DurableTask;
using Moq;

namespace ExportJobs.Service.Tests;

/// <summary>
/// The export orchestration's own decisions, on a mocked <see cref="TaskOrchestrationContext"/> (no engine, no storage):
/// each activity is a task the test completes when it chooses. Their continuations run inline, so the orchestrator sees
/// completions in the order the test makes them, as it would see the engine's history.
/// </summary>
public sealed class ExportJobOrchestratorTests
{
    private static readonly ExportJobInput Input = new("org", "prod", 42);
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly Mock<TaskOrchestrationContext> _context = new();
    private readonly TaskCompletionSource<bool> _cancel = new();
    private readonly List<(int Shard, TaskOptions? Options, TaskCompletionSource<ShardResult> Result)> _shards = [];
    private FinalizeInput? _finalized;
    private FailInput? _failed;
    private bool _runningShardsSettledBeforeFail;

    public ExportJobOrchestratorTests()
    {
        _context.SetupGet(c => c.CurrentUtcDateTime).Returns(new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc));
        _context.Setup(c => c.WaitForExternalEvent<bool>(TaskNames.CancelEvent, It.IsAny<CancellationToken>())).Returns(_cancel.Task);
        // Each activity of these plans has one shard.
        _context.Setup(c => c.CallActivityAsync<ShardResult>(new TaskName(TaskNames.ExportShard), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? input, TaskOptions? options) =>
            {
                var result = new TaskCompletionSource<ShardResult>();
                lock (_shards) _shards.Add((Assert.Single(((ShardTask)input!).Shards), options, result));
                return result.Task;
            });
        _context.Setup(c => c.CallActivityAsync<string>(new TaskName(TaskNames.FinalizeExport), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? input, TaskOptions? _) =>
            {
                _finalized = (FinalizeInput)input!;
                return Task.FromResult(_finalized.Cancelled ? "CANCELLED" : "SUCCEEDED");
            });
        _context.Setup(c => c.CallActivityAsync<string>(new TaskName(TaskNames.FailExport), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .Returns((TaskName _, object? input, TaskOptions? _) =>
            {
                _failed = (FailInput)input!;
                lock (_shards) _runningShardsSettledBeforeFail = _shards.All(s => s.Result.Task.IsCompleted);
                return Task.FromResult("FAILED");
            });
    }

    private Task<string> RunAsync(int shards, int parallel, int attempts = 3)
    {
        _context.Setup(c => c.CallActivityAsync<ExportPlan>(new TaskName(TaskNames.PrepareExport), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
            .ReturnsAsync(new ExportPlan(true, Enumerable.Range(0, shards).Select(s => new[] { s }).ToList(), parallel, attempts));
        return new ExportJobOrchestrator().RunAsync(_context.Object, Input);
    }

    private async Task ShardsStartedAsync(int count)
    {
        var until = DateTime.UtcNow + Deadline;
        while (true)
        {
            lock (_shards) if (_shards.Count >= count) return;
            if (DateTime.UtcNow > until) throw new TimeoutException($"{count} shards were not started");
            await Task.Delay(5);
        }
    }

    private TaskCompletionSource<ShardResult> Shard(int index)
    {
        lock (_shards) return _shards[index].Result;
    }

    private static ShardResult Done(int shard) => new([shard], [1], new Dictionary<string, long> { ["ecid"] = 1 }, [], 10, []);

    private static TaskFailedException Failure(string errorType, string message) =>
        new(TaskNames.ExportShard, 1, new TaskFailureDetails(errorType, message, null, null, null));

    [Fact]
    public async Task Shards_run_at_most_the_plan_s_parallelism_with_its_retry_policy_and_all_reach_finalize()
    {
        var run = RunAsync(shards: 5, parallel: 2, attempts: 4);
        for (int i = 0; i < 5; i++)
        {
            await ShardsStartedAsync(Math.Min(i + 2, 5));
            lock (_shards) Assert.True(_shards.Count(s => !s.Result.Task.IsCompleted) <= 2);
            Shard(i).SetResult(Done(i));
        }

        Assert.Equal("SUCCEEDED", await run.WaitAsync(Deadline));
        Assert.Equal([0, 1, 2, 3, 4], _finalized!.Shards.SelectMany(s => s.Shards).Order());
        Assert.False(_finalized.Cancelled);
        Assert.All(_shards, s => Assert.Equal(4, s.Options!.Retry!.Policy!.MaxNumberOfAttempts));
    }

    [Fact]
    public async Task A_cancel_during_the_fan_out_starts_no_further_shard_and_finalizes_cancelled_after_the_running_ones()
    {
        var run = RunAsync(shards: 10, parallel: 2);
        await ShardsStartedAsync(2);
        Shard(0).SetResult(Done(0));
        await ShardsStartedAsync(3);

        _cancel.SetResult(true);
        Shard(1).SetResult(Done(1));
        Assert.Null(_finalized);
        Shard(2).SetResult(Done(2));

        Assert.Equal("CANCELLED", await run.WaitAsync(Deadline));
        Assert.Equal(3, _shards.Count);
        Assert.True(_finalized!.Cancelled);
        Assert.Equal([0], _finalized.Shards.SelectMany(s => s.Shards));
    }

    [Fact]
    public async Task A_shard_that_fails_after_its_retries_fails_the_job_once_the_running_shards_have_ended()
    {
        var run = RunAsync(shards: 6, parallel: 3);
        await ShardsStartedAsync(3);
        Shard(1).SetException(Failure("System.IO.IOException", "storage went away"));
        Shard(0).SetResult(Done(0));
        Shard(2).SetResult(Done(2));

        Assert.Equal("FAILED", await run.WaitAsync(Deadline));
        Assert.True(_runningShardsSettledBeforeFail, "the job failed while shards still ran");
        Assert.Null(_finalized);
        Assert.Equal(ExportErrorCodes.StepFailed, _failed!.Code);
        Assert.Contains("ExportShard failed: System.IO.IOException: storage went away", _failed.Message);
    }

    [Fact]
    public async Task Evaluation_past_its_budget_fails_the_job_with_its_own_code()
    {
        var run = RunAsync(shards: 1, parallel: 1);
        await ShardsStartedAsync(1);
        Shard(0).SetException(Failure(typeof(SegmentEvaluation.BudgetExceededException).FullName!, "past the budget"));

        Assert.Equal("FAILED", await run.WaitAsync(Deadline));
        Assert.Equal(ExportErrorCodes.EvaluationBudgetExceeded, _failed!.Code);
    }

    [Fact]
    public async Task A_pdg_export_builds_its_graphs_in_rounds_until_none_lowers_a_label_routes_every_shard_group_then_exports_the_partitions()
    {
        var calls = new List<string>();
        void Returns<TIn, TOut>(string activity, Func<TIn, TOut> answer) =>
            _context.Setup(c => c.CallActivityAsync<TOut>(new TaskName(activity), It.IsAny<object?>(), It.IsAny<TaskOptions?>()))
                .Returns((TaskName _, object? input, TaskOptions? _) =>
                {
                    lock (calls) calls.Add($"{activity} {Describe(input)}");
                    return Task.FromResult(answer((TIn)input!));
                });
        Returns<ExportJobInput, ExportPlan>(TaskNames.PrepareExport, _ => new ExportPlan(true, [[0, 1], [2, 3]], 2, 3, Stitched: true, ShardGroupBytes: 100, Partitions: 4,
            ShardBytes: [30, 80, 20, 50]));
        Returns<GraphBuildInput, GraphBuildPlan>(TaskNames.PrepareGraphBuild, _ => new GraphBuildPlan("k1", false, [[0, 1, 2, 3]], 2, 3, Core.Identities.IdentitySettings.Default));
        Returns<GraphTask, int>(TaskNames.GraphLinks, _ => 7);
        // Round 0 counts every identity, round 1 lowers some labels, round 2 none: three rounds.
        Returns<GraphTask, int>(TaskNames.GraphRound, task => task.Round switch { 0 => 10, 1 => 2, _ => 0 });
        Returns<GraphTask, int>(TaskNames.GraphGroup, _ => 7);
        Returns<GraphTask, int>(TaskNames.GraphRules, _ => 3);
        Returns<GraphTask, bool>(TaskNames.CompleteGraphBuild, _ => true);
        // Bytes moved to the 4 partitions: 20, 0, 600 and 10; with each shard's own, 50, 80, 620 and 60: groups of at most
        // 100 hold one partition each (without the stored bytes, 0 and 1 would have been one group).
        Returns<ShardTask, RouteResult>(TaskNames.RouteShards, task => new RouteResult(task.Shards, [10, 0, 300, 5], [.. task.Shards.Select(s => new[] { $"r{s}" })]));
        Returns<ShardTask, ShardResult>(TaskNames.ExportShard, task => new ShardResult(task.Shards, [1], [], [], 1, []));

        Assert.Equal("SUCCEEDED", await new ExportJobOrchestrator().RunAsync(_context.Object, Input).WaitAsync(Deadline));
        Assert.Equal(
        [
            "PrepareExport", "PrepareGraphBuild",
            "GraphLinks p0/2 [0,1,2,3] r0", "GraphRound p0/2>3 r0", "GraphRound p1/2>3 r0", "GraphRound p0/2>3 r1", "GraphRound p1/2>3 r1",
            "GraphRound p0/2>3 r2", "GraphRound p1/2>3 r2", "GraphGroup p0/2>3 r2", "GraphGroup p1/2>3 r2",
            "GraphRules p0/3 r0 settings", "GraphRules p1/3 r0 settings", "GraphRules p2/3 r0 settings",
            "CompleteGraphBuild p0/2>3 r0", "RouteShards [0,1] k1", "RouteShards [2,3] k1",
            // Each export of a partition is told every shard's route, to read what each moved to it.
            "ExportShard [0] k1 r0,r1,r2,r3", "ExportShard [1] k1 r0,r1,r2,r3", "ExportShard [2] k1 r0,r1,r2,r3", "ExportShard [3] k1 r0,r1,r2,r3",
        ], calls.Select(c => c.TrimEnd()));
        Assert.Equal([0, 1, 2, 3], _finalized!.Shards.SelectMany(s => s.Shards).Order());
    }

    private static string Describe(object? input) => input switch
    {
        GraphTask t => $"p{t.Partition}/{t.Partitions}{(t.RulesPartitions > 0 ? $">{t.RulesPartitions}" : "")}{(t.Shards.Length > 0 ? $" [{string.Join(',', t.Shards)}]" : "")} r{t.Round}{(t.Settings is null ? "" : " settings")}",
        ShardTask t => $"[{string.Join(',', t.Shards)}] {t.Graphs}{(t.Routes is null ? "" : " " + string.Join(',', t.Routes.Select(r => r?[0] ?? "-")))}",
        _ => "",
    };
}
