using ExportJobs.Core.Jobs;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Jobs;
using ExportJobs.TestSupport;

namespace ExportJobs.Service.Tests;

public class JobStoreTests
{
    private static ExportJob Job(long id, string status = JobStatus.New) => new()
    {
        Id = id,
        Destination = new JobDestination { DatasetId = "ds", BatchId = "b" + id },
        Schema = new SchemaRef { Name = "_xdm.context.profile" },
        ImsOrgId = "org",
        Status = status,
        CreationTime = 1_000 + id,
        UpdateTime = 1_000 + id,
    };

    [Fact]
    public async Task Concurrent_creates_get_distinct_consecutive_ids_per_tenant()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<JobStore>();
        var tenant = new Tenant("org", "prod");
        var jobs = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => store.CreateAsync(tenant, id => Job(id), default)));
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), jobs.Select(j => j.Id).Order());

        var other = await store.CreateAsync(new Tenant("org", "dev"), id => Job(id), default);
        Assert.Equal(1, other.Id);
    }

    [Fact]
    public async Task List_is_newest_first_pages_by_cursor_and_filters_by_status_within_the_tenant()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<JobStore>();
        var tenant = new Tenant("org", "prod");
        for (int i = 0; i < 5; i++) await store.CreateAsync(tenant, id => Job(id, id % 2 == 0 ? JobStatus.Succeeded : JobStatus.New), default);
        await store.CreateAsync(new Tenant("org", "other"), id => Job(id), default);

        var seen = new List<long>();
        JobCursor? after = null;
        while (true)
        {
            var (page, more) = await store.ListAsync(tenant, new JobListQuery(2, after, null, null), default);
            seen.AddRange(page.Select(j => j.Id));
            if (!more) break;
            after = JobCursor.Of(page[^1]);
        }
        Assert.Equal([5, 4, 3, 2, 1], seen);

        var (succeeded, _) = await store.ListAsync(tenant, new JobListQuery(10, null, null, JobStatus.Succeeded), default);
        Assert.Equal([4, 2], succeeded.Select(j => j.Id));
    }

    [Fact]
    public async Task Update_applies_changes_and_survives_racing_writers()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<JobStore>();
        var tenant = new Tenant("org", "prod");
        var job = await store.CreateAsync(tenant, id => Job(id), default);

        await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            store.UpdateAsync(tenant, job.Id, j => j with { UpdateTime = j.UpdateTime + 1 }, default)));
        Assert.Equal(job.UpdateTime + 10, (await store.GetAsync(tenant, job.Id, default))!.UpdateTime);

        Assert.Null(await store.UpdateAsync(tenant, 999, j => j, default));
        Assert.True(await store.DeleteAsync(tenant, job.Id, default));
        Assert.Null(await store.GetAsync(tenant, job.Id, default));
    }

    [Fact]
    public async Task A_job_and_what_is_kept_beside_it_come_in_one_read_and_an_update_keeps_what_is_beside_it()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<JobStore>();
        var tenant = new Tenant("org", "prod");
        var job = await store.CreateAsync(tenant, id => Job(id), default,
            new Dictionary<JobStore.Hidden, string> { [JobStore.Hidden.OutputSchema] = "{\"type\":\"object\"}", [JobStore.Hidden.CallbackSecret] = "s3cret" });
        await store.UpdateAsync(tenant, job.Id, j => j with { Status = JobStatus.Processing }, default);

        var (read, hidden) = (await store.GetWithHiddenAsync(tenant, job.Id, [JobStore.Hidden.OutputSchema, JobStore.Hidden.SegmentExpressions], default))!.Value;
        Assert.Equal((job.Id, JobStatus.Processing), (read.Id, read.Status));
        Assert.Equal("{\"type\":\"object\"}", Assert.Single(hidden, h => h.Key == JobStore.Hidden.OutputSchema).Value);
        // Only what was asked for, and only what the job has.
        Assert.Single(hidden);
        Assert.Null(await store.GetWithHiddenAsync(tenant, job.Id + 1, [JobStore.Hidden.OutputSchema], default));
    }
}
