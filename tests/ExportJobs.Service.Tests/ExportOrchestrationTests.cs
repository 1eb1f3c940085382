using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Telemetry;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moq;

namespace ExportJobs.Service.Tests;

/// <summary>The export orchestration on the Durable Task test host, over the real steps and stores on Azurite.</summary>
public class ExportOrchestrationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private readonly ProfileGenerator _profiles = new(300);

    private sealed class Fixture : IAsyncDisposable
    {
        public required ServiceHarness Harness { get; init; }
        public required DurableTaskTestHost Host { get; init; }
        public required string OutputDataset { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Host.DisposeAsync();
            await Harness.DisposeAsync();
        }

        public async Task<JsonNode> CreateJobAsync(string segment = "seg-b", string fields = "personalEmail.address", string callback = "")
        {
            var (status, body) = await Harness.Call.SendAsync(r => Harness.Get<ExportJobsHandler>().CreateAsync(r, Host.Client, default),
                $$$"""{"fields":"{{{fields}}}","filter":{"segments":[{"segmentId":"{{{segment}}}"}]},"destination":{"datasetId":"{{{OutputDataset}}}"},"schema":{"name":"_xdm.context.profile"}{{{callback}}}}""");
            Assert.True(status == 200, body?.ToJsonString());
            return body!;
        }

        public Task<ExportJob> WaitForAsync(long id, Func<ExportJob, bool> done, string what) =>
            Poll.UntilAsync(async () => (await Harness.Get<JobStore>().GetAsync(Harness.Tenant, id, default))!, done, Deadline, what);

        public string BatchFolder(ExportJob job) => DatasetBatchFiles.Folder(Harness.Tenant, job.Destination.DatasetId!, job.Destination.BatchId!);
    }

    /// <summary>
    /// Starts the test host with the real workflow, or with <paramref name="exportShard"/> standing in for the shard
    /// activity, which then gets one shard at a time (no grouping of small shards).
    /// </summary>
    private async Task<Fixture> StartAsync(Func<ExportJobSteps, ShardTask, Task<ShardResult>>? exportShard = null, Action<IServiceCollection>? configure = null)
    {
        var harness = await ServiceHarness.StartAsync(services =>
        {
            if (exportShard is not null) services.Configure<ExportStorageOptions>(o => o.ShardGroupBytes = 0);
            configure?.Invoke(services);
        });
        var steps = harness.Get<ExportJobSteps>();
        var host = await DurableTestHost.StartAsync(registry =>
        {
            if (exportShard is null)
            {
                ExportWorkflow.Register(registry);
                return;
            }
            registry.AddOrchestrator<ExportJobOrchestrator>()
                .AddActivity<PrepareExportActivity>()
                .AddActivity<FinalizeExportActivity>()
                .AddActivity<FailExportActivity>()
                .AddActivity<NotifyCallbackActivity>()
                .AddActivityFunc<ShardTask, ShardResult>(TaskNames.ExportShard, (_, task) => exportShard(steps, task));
        }, new DurableTaskTestHostOptions
        {
            ConfigureServices = services => services.AddSingleton(steps).AddSingleton(harness.Get<CallbackNotifier>()),
        });

        string profilesDataset = await harness.CreateDatasetAsync(profileEnabled: true);
        await harness.IngestAsync(profilesDataset, _profiles.FirstBatchLines());
        await harness.IngestAsync(profilesDataset, _profiles.SecondBatchLines());
        return new Fixture { Harness = harness, Host = host, OutputDataset = await harness.CreateDatasetAsync(profileEnabled: false) };
    }

    /// <summary>An export of seg-b run to success, one activity per shard, with the tasks its activities were given and the blob listings made from its creation on.</summary>
    private sealed record ListingsSeen(Fixture Fixture, System.Collections.Concurrent.ConcurrentQueue<ShardTask> Tasks, BlobListings Listings, string ShardFolders) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Fixture.DisposeAsync();
    }

    private async Task<ListingsSeen> ExportSeeingListingsAsync(Action<IServiceCollection>? configure = null)
    {
        var listings = new BlobListings();
        var tasks = new System.Collections.Concurrent.ConcurrentQueue<ShardTask>();
        var fixture = await StartAsync(async (steps, task) =>
        {
            tasks.Enqueue(task);
            return await steps.ExportShardAsync(task, default);
        }, services =>
        {
            services.AddSingleton<Azure.Core.Pipeline.HttpPipelinePolicy>(listings);
            configure?.Invoke(services);
        });
        var seen = new ListingsSeen(fixture, tasks, listings, $"{fixture.Harness.Tenant.BlobPrefix}/shard-");
        try
        {
            listings.Clear();
            var job = await fixture.WaitForAsync((long)(await fixture.CreateJobAsync())["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
            Assert.Equal(JobStatus.Succeeded, job.Status);
            Assert.Equal(_profiles.MembersOf("seg-b").Count(), job.Metrics!.TotalExportedProfileCounter);
            return seen;
        }
        catch
        {
            await seen.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task An_export_runs_every_shard_and_succeeds_with_metrics_and_a_manifest()
    {
        await using var fixture = await StartAsync();
        var created = await fixture.CreateJobAsync();
        Assert.Equal("NEW", (string)created["status"]!);

        var job = await fixture.WaitForAsync((long)created["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Succeeded, job.Status);

        var expected = _profiles.MembersOf("seg-b").ToList();
        Assert.Equal(expected.Count, job.Metrics!.TotalExportedProfileCounter);
        Assert.Equal(expected.GroupBy(p => p.Namespace).ToDictionary(g => g.Key, g => (long)g.Count()), job.Metrics.ExportedProfileByNamespaceCounter);
        Assert.True(job.Metrics.TotalTime!.TotalTimeInMs >= job.Metrics.ProfileExportTime!.TotalTimeInMs);

        var files = await TestStorage.ListBlobsAsync(fixture.Harness.Prefix, fixture.BatchFolder(job));
        Assert.Contains(fixture.BatchFolder(job) + DatasetBatchFiles.ManifestName, files);
        // 300 profiles over 8 shards are one small group: its shards share one activity and its parts.
        Assert.InRange(files.Count(f => f.EndsWith(".parquet")), 1, job.Metrics.Progress!.Shards - 1);
        Assert.Equal(files.Count(f => f.EndsWith(".parquet")), job.Metrics.Files);
        Assert.True(job.Metrics.Bytes > 0);
        Assert.Equal(job.Metrics.Progress!.Shards, job.Metrics.Progress.ShardsDone);
        Assert.Equal(expected.Count, Assert.Single(job.Metrics.ExportedProfileBySegmentCounter!).Count);
    }

    /// <summary>
    /// Prepare lists the tenant's shards once, and each activity reads the runs listed for its shards without listing
    /// them again while the listing is recent; given a listing older than that, it lists its shard and reads what is there now.
    /// </summary>
    [Fact]
    public async Task An_export_lists_its_shards_once_and_an_activity_reads_the_runs_listed_while_the_listing_is_recent()
    {
        await using var export = await ExportSeeingListingsAsync();
        var (harness, tasks, listings, shardFolders) = (export.Fixture.Harness, export.Tasks, export.Listings, export.ShardFolders);
        Assert.Equal(1, listings.Of(shardFolders));
        Assert.Equal(0, listings.Under(shardFolders));

        // New members of seg-b after the listing (the first batch of profiles 300 to 599 has seg-b realized where i % 3 != 2).
        var more = new ProfileGenerator(600);
        await harness.IngestAsync(await harness.CreateDatasetAsync(profileEnabled: true), more.FirstBatchLines().Skip(300));
        var store = harness.Get<ProfileStore>();
        int ShardOf(GeneratedProfile p) => Core.Profiles.ShardRouter.ShardOf(new Core.Profiles.Identity(p.Namespace, p.Id), store.ShardCount);
        var task = tasks.Where(t => t.Listed is { Count: > 0 }).MaxBy(t => more.Profiles.Skip(300).Count(p => p.Index % 3 != 2 && ShardOf(p) == t.Shards[0]))!;
        int shard = Assert.Single(task.Shards);
        int listed = _profiles.MembersOf("seg-b").Count(p => ShardOf(p) == shard);
        int added = more.Profiles.Skip(300).Count(p => p.Index % 3 != 2 && ShardOf(p) == shard);
        Assert.True(added > 0);

        var steps = harness.Get<ExportJobSteps>();
        listings.Clear();
        Assert.Equal(listed, (await steps.ExportShardAsync(task, default)).Rows);
        Assert.Equal(0, listings.Under(shardFolders));
        var stale = task with { ListedAtMs = task.ListedAtMs - (long)TimeSpan.FromMinutes(10).TotalMilliseconds };
        Assert.Equal(listed + added, (await steps.ExportShardAsync(stale, default)).Rows);
        Assert.Equal(1, listings.Of(ProfileStore.ShardPrefix(harness.Tenant, shard)));
    }

    /// <summary>
    /// A plan hands on the runs of at most <see cref="ExportJobSteps.ListedPartsPerPlan"/> parts, so its messages stay
    /// small whatever the shards; the activities of the other shards list them, and the export is whole.
    /// </summary>
    [Fact]
    public async Task A_plan_hands_on_at_most_its_bound_of_listed_parts_and_the_other_activities_list_their_shards()
    {
        // 300 profiles over 400 shards: about 210 shards with files, one or two each (the second batch), over 256 parts.
        await using var export = await ExportSeeingListingsAsync(services => services.Configure<ExportStorageOptions>(o => o.ShardCount = 400));
        var (tasks, listings, shardFolders) = (export.Tasks, export.Listings, export.ShardFolders);
        Assert.InRange(tasks.Sum(t => t.Listed?.Sum(s => s.Profiles.Sum(r => r.Parts.Count)) ?? 0), ExportJobSteps.ListedPartsPerPlan - 1, ExportJobSteps.ListedPartsPerPlan);
        int listing = tasks.Count(t => t.Listed is not { Count: > 0 });
        Assert.True(listing > 0);
        Assert.Equal(listing, listings.Under(shardFolders));
    }

    [Fact]
    public async Task An_export_is_one_trace_from_its_request_counted_and_logged_in_the_jobs_scope()
    {
        var logs = new LogCapture();
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ExportTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var fixture = await StartAsync(configure: services => services.AddSingleton<ILoggerProvider>(logs));
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Scope == fixture.Harness.Get<IMeterFactory>()) l.EnableMeasurementEvents(instrument);
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) => counts.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        meters.Start();

        using var request = new Activity("test request").SetIdFormat(ActivityIdFormat.W3C).Start();
        var created = await fixture.CreateJobAsync();
        request.Stop();
        long id = (long)created["id"]!;
        var job = await fixture.WaitForAsync(id, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Succeeded, job.Status);

        var trace = spans.Where(s => s.TraceId == request.TraceId).ToList();
        Assert.Contains(trace, s => s.OperationName == "export.create");
        Assert.Single(trace, s => s.OperationName == "export.prepare");
        // The profiles are few: their shards are grouped into fewer activities, each span naming its shards.
        var groups = trace.Where(s => s.OperationName == "export.shards").ToList();
        Assert.True(groups.Count < job.Metrics!.Progress!.Shards, "small shards share an activity");
        var shardsRun = groups.SelectMany(s => ((string)s.GetTagItem("exportjobs.shards")!).Split(',')).ToList();
        Assert.Equal(job.Metrics.Progress.Shards, shardsRun.Count);
        Assert.Equal(shardsRun.Count, shardsRun.Distinct().Count());
        Assert.Single(trace, s => s.OperationName == "export.finalize");
        Assert.All(trace.Where(s => s.OperationName != "export.create"), s => Assert.Equal(id, s.GetTagItem("exportjobs.job.id")));

        Assert.Equal(1, counts.GetValueOrDefault("exportjobs.jobs.started"));
        Assert.Equal(1, counts.GetValueOrDefault("exportjobs.jobs.succeeded"));
        Assert.Equal(job.Metrics.TotalExportedProfileCounter, counts.GetValueOrDefault("exportjobs.profiles.exported"));
        Assert.Equal(0, counts.GetValueOrDefault("exportjobs.jobs.failed"));

        var steps = logs.Entries.Where(e => e.Category == typeof(ExportJobSteps).FullName).ToList();
        Assert.True(steps.Count >= groups.Count + 2, "prepare, every group of shards and finalize logged");
        Assert.All(steps, e =>
        {
            Assert.Equal(id, e.Scope["JobId"]);
            Assert.Equal(fixture.Harness.Tenant.OrgId, e.Scope["OrgId"]);
            Assert.Equal(fixture.Harness.Tenant.Sandbox, e.Scope["Sandbox"]);
        });
    }

    [Fact]
    public async Task A_shard_cuts_a_part_every_PartRows_rows_and_the_manifest_lists_them_all()
    {
        await using var fixture = await StartAsync(configure: services => services.Configure<ExportStorageOptions>(o => o.PartRows = 5));
        var created = await fixture.CreateJobAsync();
        var job = await fixture.WaitForAsync((long)created["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Succeeded, job.Status);

        var expected = _profiles.MembersOf("seg-b").Count();
        var files = await TestStorage.ListBlobsAsync(fixture.Harness.Prefix, fixture.BatchFolder(job));
        var parts = files.Where(f => f.EndsWith(".parquet", StringComparison.Ordinal)).ToList();
        Assert.True(parts.Count >= expected / 5, $"{parts.Count} parts for {expected} rows");
        using var manifestStream = await fixture.Harness.Get<DatasetBatchFiles>().OpenReadAsync(fixture.Harness.Tenant, job.Destination.DatasetId!, job.Destination.BatchId!, DatasetBatchFiles.ManifestName, default);
        var manifest = JsonNode.Parse(manifestStream!)!;
        var listed = manifest["files"]!.AsArray();
        Assert.Equal(parts.Select(p => p.Split('/')[^1]).Order(), listed.Select(f => (string)f!["name"]!).Order());
        Assert.All(listed, f => Assert.InRange((long)f!["rows"]!, 1, 5));
        Assert.Equal(expected, listed.Sum(f => (long)f!["rows"]!));
        Assert.Equal(expected, (long)manifest["totalRows"]!);
        Assert.Equal(expected, job.Metrics!.TotalExportedProfileCounter);
        Assert.All(parts, p => Assert.True(DatasetBatchFiles.IsFileName(p.Split('/')[^1]), p));
    }

    [Fact]
    public async Task A_shard_cuts_a_part_when_its_rows_hold_PartBytes_before_PartRows()
    {
        await using var fixture = await StartAsync(configure: services => services.Configure<ExportStorageOptions>(o => (o.PartRows, o.PartBytes) = (1_000, 1)));
        var created = await fixture.CreateJobAsync();
        var job = await fixture.WaitForAsync((long)created["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Succeeded, job.Status);

        var expected = _profiles.MembersOf("seg-b").Count();
        Assert.True(expected > 1, "the test needs rows enough for two parts");
        using var manifestStream = await fixture.Harness.Get<DatasetBatchFiles>().OpenReadAsync(fixture.Harness.Tenant, job.Destination.DatasetId!, job.Destination.BatchId!, DatasetBatchFiles.ManifestName, default);
        var listed = JsonNode.Parse(manifestStream!)!["files"]!.AsArray();
        // Every row holds more than a byte: each part is cut at its first row.
        Assert.Equal(expected, listed.Count);
        Assert.All(listed, f => Assert.Equal(1, (long)f!["rows"]!));
    }

    [Fact]
    public async Task A_callback_that_fails_twice_is_delivered_signed_on_the_third_attempt()
    {
        const string secret = "0123456789abcdef-secret";
        await using var receiver = await CallbackReceiver.StartAsync(secret, failFirst: 2);
        await using var fixture = await StartAsync();
        var created = await fixture.CreateJobAsync(callback: $$$""","callback":{"url":"{{{receiver.Url}}}","secret":"{{{secret}}}"}""");
        Assert.DoesNotContain(secret, created.ToJsonString());

        var job = await fixture.WaitForAsync((long)created["id"]!, j => j.Callback?.Attempts?.Any(a => a.Delivered) == true, "the callback to be delivered");
        Assert.Equal(JobStatus.Succeeded, job.Status);
        Assert.Equal([500, 500, 200], job.Callback!.Attempts!.Select(a => a.Status ?? 0));
        Assert.Equal([1, 2, 3], job.Callback.Attempts!.Select(a => a.Attempt));
        Assert.Equal(3, receiver.Deliveries.Count);
        Assert.All(receiver.Deliveries, d => Assert.True(d.SignatureValid && d.JobStatus == JobStatus.Succeeded));
    }

    [Fact]
    public async Task A_callback_to_a_private_address_is_refused()
    {
        await using var harness = await ServiceHarness.StartAsync();
        string output = await harness.CreateDatasetAsync(profileEnabled: false);
        foreach (string url in new[] { "http://example.com/hook", "https://10.0.0.5/hook", "https://user:pw@example.com/hook", "ftp://example.com/x" })
        {
            var (status, body) = await harness.Call.SendAsync(r => harness.Get<ExportJobsHandler>().CreateAsync(r, new Mock<Microsoft.DurableTask.Client.DurableTaskClient>("test").Object, default),
                $$$"""{"destination":{"datasetId":"{{{output}}}"},"schema":{"name":"s"},"callback":{"url":"{{{url}}}","secret":"0123456789abcdef"}}""");
            Assert.Equal(400, status);
            Assert.Equal("callback.url", (string)body!["field"]!);
        }
    }

    [Fact]
    public async Task A_failure_whose_message_quotes_data_of_any_length_still_ends_the_job_failed_with_the_message_cut()
    {
        // 100,000 characters: over what a job's record holds (32,768), as a message quoting a long value could be.
        string value = new('v', 100_000);
        await using var fixture = await StartAsync((_, task) => throw new InvalidDataException($"cannot write {value} in shard {task.Shards[0]}"));
        var created = await fixture.CreateJobAsync();

        var job = await fixture.WaitForAsync((long)created["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Failed, job.Status);
        var error = Assert.Single(job.Errors!);
        Assert.Equal(JobError.MaxMessageChars + 1, error.Msg.Length);
        Assert.Contains("cannot write vvv", error.Msg);
        Assert.EndsWith("…", error.Msg);
        Assert.InRange(error.CallStack!.Length, 1, JobError.MaxCallStackChars + 1);
    }

    [Fact]
    public async Task A_failing_shard_ends_the_job_failed_with_errors_and_no_files()
    {
        await using var fixture = await StartAsync(async (steps, task) =>
        {
            var result = await steps.ExportShardAsync(task, default);
            if (task.Shards[0] % 2 == 1) throw new IOException($"disk on fire in shard {task.Shards[0]}");
            return result;
        });
        var created = await fixture.CreateJobAsync();

        var job = await fixture.WaitForAsync((long)created["id"]!, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Failed, job.Status);
        var error = Assert.Single(job.Errors!);
        Assert.Equal(ExportErrorCodes.StepFailed, error.Code);
        Assert.Contains("disk on fire", error.Msg);
        Assert.False(string.IsNullOrEmpty(error.CallStack));
        Assert.Empty(await TestStorage.ListBlobsAsync(fixture.Harness.Prefix, fixture.BatchFolder(job)));
    }

    [Fact]
    public async Task Cancelling_a_running_export_stops_it_and_removes_its_partial_files()
    {
        // The first shard runs and writes its part; every other shard waits at a gate until the cancel was sent.
        var firstShardDone = new TaskCompletionSource();
        var gate = new TaskCompletionSource();
        int started = 0;
        await using var fixture = await StartAsync(async (steps, task) =>
        {
            if (Interlocked.Increment(ref started) > 1) await gate.Task;
            var result = await steps.ExportShardAsync(task, default);
            firstShardDone.TrySetResult();
            return result;
        });
        var created = await fixture.CreateJobAsync(segment: "seg-a");
        long id = (long)created["id"]!;

        await firstShardDone.Task.WaitAsync(Deadline);
        var running = await fixture.WaitForAsync(id, j => j.Status == JobStatus.Processing, "the job to be processing");
        Assert.NotEmpty(await TestStorage.ListBlobsAsync(fixture.Harness.Prefix, fixture.BatchFolder(running)));
        int shards = (await fixture.Harness.Get<ProfileStore>().ListShardsAsync(FragmentKind.Profile, fixture.Harness.Tenant, default)).Count;
        Assert.Equal(new JobProgress(1, shards), running.Metrics!.Progress);

        var (status, answer) = await fixture.Harness.Call.SendAsync(r => fixture.Harness.Get<ExportJobsHandler>().DeleteAsync(r, id.ToString(), fixture.Host.Client, default));
        Assert.Equal(200, status);
        Assert.Equal("""{"status":true,"message":"Export job has been marked for cancelling"}""", answer!.ToJsonString());
        gate.SetResult();

        var job = await fixture.WaitForAsync(id, j => JobStatus.IsTerminal(j.Status), "the job to end");
        Assert.Equal(JobStatus.Cancelled, job.Status);
        Assert.True(started < 8, $"the fan-out stopped after the cancel ({started} of 8 shards started)");
        Assert.Empty(await TestStorage.ListBlobsAsync(fixture.Harness.Prefix, fixture.BatchFolder(job)));
    }
}
