using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Segments;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ExportJobs.Service.Tests;

public class WatchdogTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);

    private static ExportJob Job(long id, string status, string org, string sandbox, long updated) => new()
    {
        Id = id,
        Status = status,
        ImsOrgId = org,
        Schema = new SchemaRef { Name = "_xdm.context.profile" },
        Destination = new JobDestination { DatasetId = "out", BatchId = $"batch{id}" },
        ComputeGatewayJobId = new ComputeGatewayJobId(TaskNames.InstanceIdOf(org, sandbox, id)),
        CreationTime = updated,
        UpdateTime = updated,
    };

    [Fact]
    public async Task Stuck_jobs_are_redriven_or_failed_and_healthy_ones_are_left_alone()
    {
        var clock = new FakeTimeProvider(Start);
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
        var store = harness.Get<JobStore>();
        var tenant = harness.Tenant;
        long t0 = Start.ToUnixTimeMilliseconds();
        var orphanNew = await store.CreateAsync(tenant, id => Job(id, JobStatus.New, tenant.OrgId, tenant.Sandbox, t0), default);
        var stalled = await store.CreateAsync(tenant, id => Job(id, JobStatus.Processing, tenant.OrgId, tenant.Sandbox, t0), default);
        var stuckRunning = await store.CreateAsync(tenant, id => Job(id, JobStatus.Processing, tenant.OrgId, tenant.Sandbox, t0), default);
        var fresh = await store.CreateAsync(tenant, id => Job(id, JobStatus.Processing, tenant.OrgId, tenant.Sandbox, t0 + 40 * 60_000), default);
        var unreachable = await store.CreateAsync(tenant, id => Job(id, JobStatus.Processing, tenant.OrgId, tenant.Sandbox, t0), default);
        var queuedNew = await store.CreateAsync(tenant, id => Job(id, JobStatus.New, tenant.OrgId, tenant.Sandbox, t0), default);
        await harness.Get<DatasetBatchFiles>().WritePartAsync(tenant, "out", stalled.Destination.BatchId!, DatasetBatchFiles.PartName(0, 0), OnePart(), default);

        var client = Engine();
        client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .Returns((string id, bool _, CancellationToken _) =>
                id == unreachable.ComputeGatewayJobId!.ExportJob ? Task.FromException<OrchestrationMetadata?>(new InvalidOperationException("the engine is down"))
                : Task.FromResult(id == stuckRunning.ComputeGatewayJobId!.ExportJob
                    ? new OrchestrationMetadata(TaskNames.ExportJobOrchestrator, id) { RuntimeStatus = OrchestrationRuntimeStatus.Running }
                    : id == queuedNew.ComputeGatewayJobId!.ExportJob
                        ? new OrchestrationMetadata(TaskNames.ExportJobOrchestrator, id) { RuntimeStatus = OrchestrationRuntimeStatus.Pending }
                        : null));
        client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? o, CancellationToken _) => o!.InstanceId!);
        var watchdog = harness.Get<JobWatchdog>();

        Assert.Equal((0, 0, 0), await watchdog.RunAsync(client.Object, default));
        clock.Advance(TimeSpan.FromMinutes(45));
        Assert.Equal((1, 3, 0), await watchdog.RunAsync(client.Object, default));

        client.Verify(c => c.ScheduleNewOrchestrationInstanceAsync(It.Is<TaskName>(n => n.Name == TaskNames.ExportJobOrchestrator), It.IsAny<object?>(),
            It.Is<StartOrchestrationOptions?>(o => o!.InstanceId == orphanNew.ComputeGatewayJobId!.ExportJob), It.IsAny<CancellationToken>()), Times.Once);
        client.Verify(c => c.TerminateInstanceAsync(stuckRunning.ComputeGatewayJobId!.ExportJob, It.IsAny<object?>(), It.IsAny<CancellationToken>()), Times.Once);
        Assert.Equal(JobStatus.New, (await store.GetAsync(tenant, orphanNew.Id, default))!.Status);
        Assert.Equal(JobStatus.New, (await store.GetAsync(tenant, queuedNew.Id, default))!.Status);
        Assert.Contains("not answering", (await store.GetAsync(tenant, unreachable.Id, default))!.Errors![0].Msg);
        foreach (var id in new[] { stalled.Id, stuckRunning.Id, unreachable.Id })
        {
            var job = (await store.GetAsync(tenant, id, default))!;
            Assert.Equal(JobStatus.Failed, job.Status);
            Assert.Equal(ExportErrorCodes.Stalled, Assert.Single(job.Errors!).Code);
        }
        Assert.Empty(await TestStorage.ListBlobsAsync(harness.Prefix, DatasetBatchFiles.Folder(tenant, "out", stalled.Destination.BatchId!)));
        Assert.Equal(JobStatus.Processing, (await store.GetAsync(tenant, fresh.Id, default))!.Status);

        // The re-driven job was touched, so the next run leaves it be.
        Assert.Equal((0, 0, 0), await watchdog.RunAsync(client.Object, default));
    }

    [Fact]
    public async Task Stuck_segment_jobs_are_redriven_or_failed_with_their_memberships_removed()
    {
        var clock = new FakeTimeProvider(Start);
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
        var store = harness.Get<SegmentJobStore>();
        var tenant = harness.Tenant;
        long t0 = Start.ToUnixTimeMilliseconds();
        SegmentJob Segment(long id, string status) => new()
        {
            Id = id.ToString(System.Globalization.CultureInfo.InvariantCulture), ImsOrgId = tenant.OrgId, Sandbox = new SegmentSandbox(tenant.Sandbox), Source = "api", Status = status,
            Segments = [new SegmentJobSegment { SegmentId = "s1", Segment = new SegmentJobDefinition { Id = "s1", Expression = new SegmentExpression { Type = "PQL", Format = "pql/text", Value = "a = 1" },
                MergePolicyId = "p", MergePolicy = new SegmentJobMergePolicy("p", 1) } }],
            CreationTime = t0, UpdateTime = t0,
        };
        var orphan = await store.CreateAsync(tenant, id => Segment(id, JobStatus.New), default);
        var stalled = await store.CreateAsync(tenant, id => Segment(id, JobStatus.Processing), default);
        string membership = SegmentJobSteps.MembershipBatchIds(stalled)[0];
        await using (var writer = harness.Get<ProfileStore>().OpenShardWriter(FragmentKind.Profile, tenant, 0, "_segmentation", membership, t0, ["segmentMembership"]))
        {
            await writer.AddAsync(new Identity("email", "a@example.com"), """{"segmentMembership":{}}"""u8.ToArray(), default);
            await writer.CompleteAsync(default);
        }

        var client = Engine();
        client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>())).ReturnsAsync((OrchestrationMetadata?)null);
        client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? o, CancellationToken _) => o!.InstanceId!);
        clock.Advance(TimeSpan.FromMinutes(45));
        Assert.Equal((1, 1, 0), await harness.Get<JobWatchdog>().RunAsync(client.Object, default));

        string instance = TaskNames.SegmentJobInstanceIdOf(tenant.OrgId, tenant.Sandbox, orphan.Number);
        client.Verify(c => c.ScheduleNewOrchestrationInstanceAsync(It.Is<TaskName>(n => n.Name == TaskNames.SegmentJobOrchestrator), It.IsAny<object?>(),
            It.Is<StartOrchestrationOptions?>(o => o!.InstanceId == instance), It.IsAny<CancellationToken>()), Times.Once);
        Assert.Equal(JobStatus.New, (await store.GetAsync(tenant, orphan.Number, default))!.Status);
        var failed = (await store.GetAsync(tenant, stalled.Number, default))!;
        Assert.Equal(JobStatus.Failed, failed.Status);
        Assert.Equal(ExportErrorCodes.Stalled, Assert.Single(failed.Errors!).Code);
        Assert.Equal(0, await harness.Get<ProfileStore>().DeleteBatchAsync(FragmentKind.Profile, tenant, membership, default));
    }

    [Fact]
    public async Task Each_run_purges_the_orchestrations_that_ended_created_a_week_or_more_before_and_an_engine_that_fails_the_purge_stops_nothing_else()
    {
        var clock = new FakeTimeProvider(Start);
        await using var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
        var store = harness.Get<JobStore>();
        var tenant = harness.Tenant;
        var stalled = await store.CreateAsync(tenant, id => Job(id, JobStatus.Processing, tenant.OrgId, tenant.Sandbox, Start.ToUnixTimeMilliseconds()), default);
        var client = Engine();
        client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>())).ReturnsAsync((OrchestrationMetadata?)null);
        var filters = new List<PurgeInstancesFilter>();
        client.Setup(c => c.PurgeAllInstancesAsync(Capture.In(filters), It.IsAny<CancellationToken>())).ReturnsAsync(new PurgeResult(3));
        var watchdog = harness.Get<JobWatchdog>();

        Assert.Equal((0, 0, 3), await watchdog.RunAsync(client.Object, default));
        var filter = Assert.Single(filters);
        Assert.Equal(DateTimeOffset.UnixEpoch, filter.CreatedFrom);
        Assert.Equal(Start - TimeSpan.FromDays(7), filter.CreatedTo);
        Assert.Equal([OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated],
            filter.Statuses!.Order());

        client.Setup(c => c.PurgeAllInstancesAsync(It.IsAny<PurgeInstancesFilter>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("the engine is down"));
        clock.Advance(TimeSpan.FromMinutes(45));
        Assert.Equal((0, 1, 0), await watchdog.RunAsync(client.Object, default));
        Assert.Equal(JobStatus.Failed, (await store.GetAsync(tenant, stalled.Id, default))!.Status);
    }

    [Fact]
    public void A_retention_no_longer_than_the_wait_for_a_new_job_is_refused()
    {
        var options = new WatchdogOptions { StuckNewAfterSeconds = 7200, PurgeEndedAfterSeconds = 7200 };
        var refused = Assert.Single(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
        Assert.Contains(nameof(WatchdogOptions.PurgeEndedAfterSeconds), refused.MemberNames);
        options.PurgeEndedAfterSeconds = 7201;
        Assert.Empty(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
    }

    /// <summary>A Durable client whose purges find nothing, unless a test sets them up otherwise.</summary>
    private static Mock<DurableTaskClient> Engine()
    {
        var client = new Mock<DurableTaskClient>("test");
        client.Setup(c => c.PurgeAllInstancesAsync(It.IsAny<PurgeInstancesFilter>(), It.IsAny<CancellationToken>())).ReturnsAsync(new PurgeResult(0));
        return client;
    }

    private static PartRows OnePart()
    {
        var rows = PartRows.For(null);
        rows.Add(MergedValue.Of(new JsonObject { ["a"] = 1 }));
        return rows;
    }
}
