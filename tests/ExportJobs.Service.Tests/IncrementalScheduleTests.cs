using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Schedules;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

/// <summary>
/// An incremental export schedule on the schedule runner and the export orchestration (Durable Task test host, Azurite):
/// each run diffs against the schedule's latest run that succeeded, so a run that fails in between loses no change.
/// </summary>
public class IncrementalScheduleTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_run_after_a_failed_one_diffs_against_the_last_success_and_holds_every_change()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 28, 10, 0, 30, TimeSpan.Zero));
        long failing = 0;
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
        var steps = harness.Get<ExportJobSteps>();
        await using var host = await DurableTestHost.StartAsync(registry => registry
            .AddOrchestrator<ExportJobOrchestrator>()
            .AddActivity<PrepareExportActivity>()
            .AddActivity<FinalizeExportActivity>()
            .AddActivity<FailExportActivity>()
            .AddActivityFunc<ShardTask, ShardResult>(TaskNames.ExportShard, async (_, task) =>
            {
                var result = await steps.ExportShardAsync(task, default);
                return task.Job.JobId == Interlocked.Read(ref failing) ? throw new IOException("disk on fire") : result;
            }), new DurableTaskTestHostOptions { ConfigureServices = services => services.AddSingleton(steps) });

        var generator = new ProfileGenerator(300);
        string profiles = await harness.CreateDatasetAsync(profileEnabled: true);
        string output = await harness.CreateDatasetAsync(profileEnabled: false);
        await harness.IngestAsync(profiles, generator.FirstBatchLines());
        var (status, body) = await harness.Call.SendAsync(r => harness.Get<SchedulesHandler>().CreateAsync(r, default), $$$$"""
            {"name":"nightly changes","type":"export","state":"active","schedule":"0 */2 * * * ?",
             "properties":{"fields":"personalEmail.address,person.name.firstName","filter":{"segments":[{"segmentId":"seg-b"}]},
               "destination":{"datasetId":"{{{{output}}}}"},"schema":{"name":"_xdm.context.profile"},"incremental":{}}}
            """);
        Assert.True(status == 200, body?.ToJsonString());

        async Task<ExportJob> RunAsync()
        {
            clock.Advance(TimeSpan.FromMinutes(2));
            Assert.Equal(1, await harness.Get<ScheduleRunner>().RunDueAsync(host.Client, default));
            var (jobs, _) = await harness.Get<JobStore>().ListAsync(harness.Tenant, new JobListQuery(1, null, null, null), default);
            return await Poll.UntilAsync(async () => (await harness.Get<JobStore>().GetAsync(harness.Tenant, jobs[0].Id, default))!,
                j => JobStatus.IsTerminal(j.Status), Deadline, "the run to end");
        }

        // Before batch 2, seg-b's members are i % 3 of 0 or 1; batch 2 moves i % 3 == 1 out and renames i % 3 == 1 or i % 7 == 0.
        var first = await RunAsync();
        Assert.Equal(JobStatus.Succeeded, first.Status);
        Assert.Null(first.Incremental!.AfterJobId);
        int members = generator.Profiles.Count(p => p.Index % 3 is 0 or 1);
        Assert.Equal(new ChangeCounts(members, 0, 0), first.Metrics!.Changes);

        await harness.IngestAsync(profiles, generator.SecondBatchLines());
        Interlocked.Exchange(ref failing, first.Id + 1);
        var failed = await RunAsync();
        Assert.Equal((first.Id + 1, JobStatus.Failed), (failed.Id, failed.Status));
        Assert.Equal(first.Id, failed.Incremental!.AfterJobId);

        var third = await RunAsync();
        Assert.Equal(JobStatus.Succeeded, third.Status);
        Assert.Equal(first.Id, third.Incremental!.AfterJobId);
        int exited = generator.Profiles.Count(p => p.Index % 3 == 1);
        int renamed = generator.Profiles.Count(p => p.Index % 3 == 0 && p.Index % 7 == 0);
        Assert.Equal(new ChangeCounts(0, exited, renamed), third.Metrics!.Changes);

        // The chain moved on: the first run's state is released (once the third is SUCCEEDED, so polled), and the next
        // run diffs against the third.
        await Poll.UntilAsync(() => harness.Get<ChangeStates>().IsCompleteAsync(harness.Tenant, first.Id, default), kept => !kept, Deadline, "the first run's state released");
        var fourth = await RunAsync();
        Assert.Equal(third.Id, fourth.Incremental!.AfterJobId);
        Assert.Equal(new ChangeCounts(0, 0, 0), fourth.Metrics!.Changes);
    }
}
