using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Schedules;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Moq;

namespace ExportJobs.Service.Tests;

public class ScheduleTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 10, 0, 30, TimeSpan.Zero);

    [Theory]
    [InlineData("0 0 1 * * ?", null)]
    [InlineData("0 0 12 ? * MON-FRI", null)]
    [InlineData("0 0 0 L * ?", null)]
    [InlineData("0 0 0 15W * ?", null)]
    [InlineData("0 0 0 ? * 6#3", null)]
    [InlineData("0 0 1 * * ? 2099", null)]
    [InlineData("0 * * * * ?", null)]
    [InlineData("0 0 1 * *", "6 or 7 fields")]
    [InlineData("0 0 1 * * ? 2099 1", "6 or 7 fields")]
    [InlineData("bad", "6 or 7 fields")]
    [InlineData("0 0 25 * * ?", "not a valid Quartz cron expression")]
    [InlineData("0 0 0 1 * MON", "exactly one of day-of-month")]
    [InlineData("0 0 0 ? * ?", "exactly one of day-of-month")]
    [InlineData("0 0 1 * * ?\r\n", "without control characters")]
    [InlineData("0 0 1 * *\t* ?", "without control characters")]
    [InlineData("0 0 0 32W * ?", "not a valid Quartz cron expression")]
    [InlineData("* * * * * ?", "minimum interval")]
    [InlineData("*/30 * * * * ?", "minimum interval")]
    [InlineData("0 0 1 * * ? 2001", "never fires again")]
    public void Cron_expressions_are_checked_with_the_minimum_interval(string cron, string? error)
    {
        var problems = new ProblemList();
        ScheduleRules.CheckCron(cron, Start, TimeSpan.FromMinutes(1), problems);
        if (error is null) Assert.Empty(problems.Items);
        else Assert.Contains(error, Assert.Single(problems.Items).Message);
    }

    private sealed class Fixture : IAsyncDisposable
    {
        public required ServiceHarness Harness { get; init; }
        public required FakeTimeProvider Clock { get; init; }
        public Mock<DurableTaskClient> Client { get; } = new("test");
        public required string Dataset { get; init; }

        public static async Task<Fixture> StartAsync()
        {
            var clock = new FakeTimeProvider(Start);
            var harness = await ServiceHarness.StartAsync(s => s.AddSingleton<TimeProvider>(clock));
            var fixture = new Fixture { Harness = harness, Clock = clock, Dataset = await harness.CreateDatasetAsync(profileEnabled: false) };
            fixture.Client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
                .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? o, CancellationToken _) => o!.InstanceId!);
            return fixture;
        }

        public async Task<JsonNode> CreateAsync(string cron, string state = "active")
        {
            var (status, body) = await Harness.Call.SendAsync(r => Harness.Get<SchedulesHandler>().CreateAsync(r, default), $$$$"""
                {"name":"nightly","type":"export","state":"{{{{state}}}}","schedule":"{{{{cron}}}}",
                 "properties":{"destination":{"datasetId":"{{{{Dataset}}}}"},"schema":{"name":"_xdm.context.profile"}}}
                """);
            Assert.True(status == 200, body?.ToJsonString());
            return body!;
        }

        public Task<int> RunAsync() => Harness.Get<ScheduleRunner>().RunDueAsync(Client.Object, default);

        public async Task<IReadOnlyList<ExportJob>> JobsAsync() =>
            (await Harness.Get<JobStore>().ListAsync(Harness.Tenant, new JobListQuery(100, null, null, null), default)).Jobs;

        public async Task<JsonNode> ReadAsync(string id) =>
            (await Harness.Call.SendAsync(r => Harness.Get<SchedulesHandler>().GetAsync(r, id, default))).Body!;

        public ValueTask DisposeAsync() => Harness.DisposeAsync();
    }

    [Fact]
    public async Task A_due_schedule_creates_one_job_per_due_time_and_once_after_missed_runs()
    {
        await using var f = await Fixture.StartAsync();
        var schedule = await f.CreateAsync("0 0 * * * ?");
        string id = (string)schedule["id"]!;
        Assert.Equal("2026-11-28T11:00:00Z", (string)schedule["nextRunTime"]!);

        Assert.Equal(0, await f.RunAsync());
        f.Clock.SetUtcNow(new DateTimeOffset(2026, 11, 28, 11, 0, 0, TimeSpan.Zero));
        Assert.Equal(1, await f.RunAsync());
        Assert.Equal(0, await f.RunAsync());
        var job = Assert.Single(await f.JobsAsync());
        Assert.Equal(id, job.ScheduleId);
        var read = await f.ReadAsync(id);
        Assert.Equal(job.Id, (long)read["lastJobId"]!);
        Assert.Equal("2026-11-28T11:00:00Z", (string)read["lastRunTime"]!);
        Assert.Equal("2026-11-28T12:00:00Z", (string)read["nextRunTime"]!);

        // Down for five hours: the missed runs make one job, and the next run is the next one after now.
        f.Clock.SetUtcNow(new DateTimeOffset(2026, 11, 28, 16, 20, 0, TimeSpan.Zero));
        Assert.Equal(1, await f.RunAsync());
        Assert.Equal(0, await f.RunAsync());
        Assert.Equal(2, (await f.JobsAsync()).Count);
        Assert.Equal("2026-11-28T17:00:00Z", (string)(await f.ReadAsync(id))["nextRunTime"]!);
    }

    [Fact]
    public async Task A_tick_that_wakes_a_little_early_or_late_runs_the_due_time_of_its_instant_and_skips_none()
    {
        await using var f = await Fixture.StartAsync();
        string id = (string)(await f.CreateAsync("0 * * * * ?"))["id"]!;
        var first = new DateTimeOffset(2026, 11, 28, 10, 1, 0, TimeSpan.Zero);
        for (int minute = 0; minute < 5; minute++)
        {
            var due = first.AddMinutes(minute);
            // Timers wake a few milliseconds either side of their instant.
            f.Clock.SetUtcNow(due + (minute % 2 == 0 ? TimeSpan.FromMilliseconds(-4) : TimeSpan.FromMilliseconds(350)));
            Assert.Equal(1, await f.RunAsync());
            var read = await f.ReadAsync(id);
            Assert.Equal(ScheduleRules.Rfc3339(due.ToUnixTimeMilliseconds()), (string)read["lastRunTime"]!);
            Assert.Equal(ScheduleRules.Rfc3339(due.AddMinutes(1).ToUnixTimeMilliseconds()), (string)read["nextRunTime"]!);
        }
        Assert.Equal(5, (await f.JobsAsync()).Count);
    }

    [Theory]
    [InlineData("2026-11-28T10:00:59.996Z", "2026-11-28T10:01:00Z")]
    [InlineData("2026-11-28T10:01:00.000Z", "2026-11-28T10:01:00Z")]
    [InlineData("2026-11-28T10:01:29.000Z", "2026-11-28T10:01:00Z")]
    [InlineData("2026-11-28T10:01:31.000Z", "2026-11-28T10:02:00Z")]
    public void A_timer_run_belongs_to_its_nearest_scheduled_instant(string now, string tick) =>
        Assert.Equal(DateTimeOffset.Parse(tick), ScheduleRunner.TickOf(DateTimeOffset.Parse(now)));

    [Fact]
    public async Task Concurrent_timer_runs_create_exactly_one_job_per_due_time()
    {
        await using var f = await Fixture.StartAsync();
        await f.CreateAsync("0 */2 * * * ?");
        for (int round = 1; round <= 5; round++)
        {
            f.Clock.Advance(TimeSpan.FromMinutes(2));
            var created = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(f.RunAsync)));
            Assert.Equal(1, created.Sum());
            Assert.Equal(round, (await f.JobsAsync()).Count);
        }
    }

    [Fact]
    public async Task A_patched_inactive_schedule_creates_nothing_and_can_be_reactivated()
    {
        await using var f = await Fixture.StartAsync();
        string id = (string)(await f.CreateAsync("0 0 * * * ?"))["id"]!;

        var (status, _) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().PatchAsync(r, id, default),
            """[{"op":"replace","path":"/state","value":"inactive"}]""");
        Assert.Equal(204, status);
        Assert.Null((string?)(await f.ReadAsync(id))["nextRunTime"]);
        f.Clock.Advance(TimeSpan.FromHours(3));
        Assert.Equal(0, await f.RunAsync());

        (status, _) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().PatchAsync(r, id, default),
            """[{"op":"replace","path":"/state","value":"active"},{"op":"replace","path":"/schedule","value":"0 30 * * * ?"}]""");
        Assert.Equal(204, status);
        var read = await f.ReadAsync(id);
        Assert.Equal("active", (string)read["state"]!);
        Assert.Equal("2026-11-28T13:30:00Z", (string)read["nextRunTime"]!);

        (status, var problem) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().PatchAsync(r, id, default),
            """[{"op":"replace","path":"/name","value":"x"}]""");
        Assert.Equal(400, status);
        Assert.Equal("[0].path", (string)problem!["field"]!);
    }

    [Fact]
    public async Task A_schedule_is_refused_when_its_payload_would_be()
    {
        await using var f = await Fixture.StartAsync();
        var (status, problem) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().CreateAsync(r, default),
            """{"name":"n","type":"export","schedule":"0 0 1 * * ?","properties":{"destination":{"datasetId":"nosuch"},"schema":{"name":"s"}}}""");
        Assert.Equal(400, status);
        Assert.Equal("properties.destination.datasetId", (string)problem!["field"]!);
        (status, problem) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().CreateAsync(r, default),
            """{"name":"n","type":"batch_segmentation","schedule":"0 0 1 * * ?","properties":{}}""");
        Assert.Equal(400, status);
        Assert.Equal("properties.segments", (string)problem!["field"]!);
        (status, problem) = await f.Harness.Call.SendAsync(r => f.Harness.Get<SchedulesHandler>().CreateAsync(r, default),
            """{"name":"n","type":"batch_segmentation","schedule":"0 0 1 * * ?","properties":{"segments":["nosuch"]}}""");
        Assert.Equal(400, status);
        Assert.Equal("properties.segments[0]", (string)problem!["field"]!);
    }
}
