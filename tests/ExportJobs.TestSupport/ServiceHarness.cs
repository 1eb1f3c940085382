using ExportJobs.Core.Tenancy;
using ExportJobs.Service;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Storage;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Moq;
using Xunit;

namespace ExportJobs.TestSupport;

/// <summary>The service's real object graph (AddExportJobs) on the test Azurite, under a private name prefix.</summary>
public sealed class ServiceHarness : IAsyncDisposable
{
    private ServiceHarness(ServiceProvider services, string prefix)
    {
        Services = services;
        Prefix = prefix;
        Call = new HandlerCall(services);
    }

    public ServiceProvider Services { get; }
    public string Prefix { get; }
    public HandlerCall Call { get; }
    public Tenant Tenant => new(Call.Org, Call.Sandbox);
    public T Get<T>() where T : notnull => Services.GetRequiredService<T>();

    public static async Task<ServiceHarness> StartAsync(Action<IServiceCollection>? configure = null)
    {
        string prefix = TestStorage.NewPrefix();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(TestStorage.Settings(prefix)).Build();
        var services = new ServiceCollection().AddLogging().AddExportJobs(configuration);
        configure?.Invoke(services);
        var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<StorageClients>().EnsureCreatedAsync(CancellationToken.None);
        return new ServiceHarness(provider, prefix);
    }

    public async Task<string> CreateDatasetAsync(bool profileEnabled)
    {
        var (status, body) = await Call.SendAsync(r => Get<DatasetsHandler>().CreateAsync(r, default),
            $$"""{"name":"ds","schema":{"name":"_xdm.context.profile"},"profileEnabled":{{(profileEnabled ? "true" : "false")}}}""");
        Assert.Equal(201, status);
        return (string)body!["id"]!;
    }

    /// <summary>Ingests one batch; its request for background compaction goes to <paramref name="client"/>, or nowhere.</summary>
    public async Task IngestAsync(string datasetId, IEnumerable<string> lines, DurableTaskClient? client = null)
    {
        var request = Call.Request();
        request.ContentType = "application/x-ndjson";
        request.Body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(string.Join("\n", lines)));
        var (status, body) = await HandlerCall.ReadAsync(await Get<DatasetsHandler>().IngestAsync(request, datasetId, client ?? new Mock<DurableTaskClient>("harness").Object, default), request.HttpContext);
        Assert.True(status == 201, body?.ToJsonString());
    }

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
