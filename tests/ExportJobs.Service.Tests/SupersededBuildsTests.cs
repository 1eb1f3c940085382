using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Identities;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ExportJobs.Service.Tests;

public sealed class SupersededBuildsTests
{
    /// <summary>A host whose clock the test moves, keeping superseded builds an hour.</summary>
    private static Task<ServiceHarness> StartAsync(FakeTimeProvider clock) => ServiceHarness.StartAsync(s => s
        .AddSingleton<TimeProvider>(clock)
        .Configure<ExportStorageOptions>(o => o.SupersededBuildMinutes = 60));

    [Fact]
    public async Task A_build_is_deleted_an_hour_after_a_newer_one_completed_unless_an_export_reuses_it_and_other_tenants_keep_theirs()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await StartAsync(clock);
        var (files, builds) = (harness.Get<GraphFiles>(), harness.Get<SupersededBuilds>());
        var tenant = harness.Tenant;
        var other = new Tenant(tenant.OrgId, tenant.Sandbox + "x");
        async Task<GraphFiles> BuildAsync(Tenant owner, string key)
        {
            var build = files.Build(owner, key);
            await build.CreateAsync(default);
            await build.MarkAsync(GraphFiles.CompleteName, default);
            return build;
        }
        async Task<bool> ExistsAsync(GraphFiles build) => (await build.Container.ExistsAsync()).Value;

        var (a, b, elsewhere) = (await BuildAsync(tenant, "a"), await BuildAsync(tenant, "b"), await BuildAsync(other, "a"));
        Assert.Equal(0, await builds.RetireOthersAsync(tenant, "b", default)); // a is marked now, kept an hour
        clock.Advance(TimeSpan.FromMinutes(59));
        var c = await BuildAsync(tenant, "c");
        Assert.Equal(0, await builds.RetireOthersAsync(tenant, "c", default));
        Assert.True(await ExistsAsync(a), "an export that started on a before b completed has an hour");

        clock.Advance(TimeSpan.FromMinutes(1));
        await builds.KeepAsync(tenant, "b", default); // an export reuses b: it is current again
        var d = await BuildAsync(tenant, "d");
        Assert.Equal(1, await builds.RetireOthersAsync(tenant, "d", default));
        Assert.False(await ExistsAsync(a));
        Assert.True(await ExistsAsync(b) && await ExistsAsync(c) && await ExistsAsync(d));
        Assert.True(await ExistsAsync(elsewhere), "another tenant's build is not this tenant's to retire");

        // c completed at 59 minutes and marked b then; b lost that mark when reused, so d's completion marked b and c anew.
        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(0, await builds.RetireOthersAsync(tenant, "d", default));
        Assert.True(await ExistsAsync(b), "b's hour started when d completed, not when c did");
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, await builds.RetireOthersAsync(tenant, "d", default));
        Assert.False(await ExistsAsync(b) || await ExistsAsync(c));
        Assert.True(await ExistsAsync(d), "the completing build is never retired");
    }

    [Fact]
    public async Task A_build_that_completes_while_marked_superseded_loses_its_mark()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var harness = await StartAsync(clock);
        var (files, builds, tenant) = (harness.Get<GraphFiles>(), harness.Get<SupersededBuilds>(), harness.Tenant);
        foreach (string key in new[] { "x", "y" }) await files.Build(tenant, key).CreateAsync(default);

        await builds.RetireOthersAsync(tenant, "y", default); // x (still being built, say) is marked superseded
        clock.Advance(TimeSpan.FromMinutes(60));
        Assert.Equal(0, await builds.RetireOthersAsync(tenant, "x", default)); // x completes: its mark goes, y is marked
        await files.Build(tenant, "z").CreateAsync(default);
        Assert.Equal(0, await builds.RetireOthersAsync(tenant, "z", default)); // x's hour starts now, not an hour ago
        Assert.True((await files.Build(tenant, "x").Container.ExistsAsync()).Value);
    }
}
