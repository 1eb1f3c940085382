using ExportJobs.Core.Segments;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Segments;
using ExportJobs.Service.Storage;
using ExportJobs.TestSupport;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Tests;

public class SegmentDefinitionStoreTests
{
    private static async Task<StorageClients> ClientsAsync()
    {
        var clients = new StorageClients(Options.Create(TestStorage.Options(TestStorage.NewPrefix())));
        await clients.EnsureCreatedAsync(CancellationToken.None);
        return clients;
    }

    private static async Task<SegmentDefinitionStore> StoreAsync() => new(await ClientsAsync());

    /// <summary>The Tables client answers a delete of a missing entity without an exception; every store must still say "not there" (a 404 to the API).</summary>
    [Fact]
    public async Task Deleting_what_is_not_there_says_so_in_every_store()
    {
        var clients = await ClientsAsync();
        var tenant = new Tenant("org-a", "prod");
        string id = Guid.NewGuid().ToString();
        Assert.False(await new SegmentDefinitionStore(clients).DeleteAsync(tenant, id, CancellationToken.None));
        Assert.False(await new Schedules.ScheduleStore(clients).DeleteAsync(tenant, id, CancellationToken.None));
        Assert.False(await new MergePolicies.MergePolicyStore(clients).DeleteAsync(tenant, id, CancellationToken.None));
        Assert.False(await new JobStore(clients).DeleteAsync(tenant, 42, CancellationToken.None));
    }

    [Fact]
    public async Task A_tenant_neither_reads_changes_nor_deletes_another_tenants_definition()
    {
        var store = await StoreAsync();
        var owner = new Tenant("org-a", "prod");
        var other = new Tenant("org-b", "prod");
        var definition = new SegmentDefinition { Id = Guid.NewGuid().ToString(), Name = "mine" };
        await store.AddAsync(owner, definition, CancellationToken.None);

        Assert.Null(await store.GetAsync(other, definition.Id!, CancellationToken.None));
        Assert.Equal(RecordJson.ReplaceOutcome.NotFound, (await store.ReplaceAsync(other, definition.Id!, d => d with { Name = "taken" }, null, CancellationToken.None)).Outcome);
        Assert.False(await store.DeleteAsync(other, definition.Id!, CancellationToken.None));
        Assert.Equal("mine", (await store.GetAsync(owner, definition.Id!, CancellationToken.None))!.Name);
        Assert.True(await store.DeleteAsync(owner, definition.Id!, CancellationToken.None));
        Assert.False(await store.DeleteAsync(owner, definition.Id!, CancellationToken.None));
    }
}
