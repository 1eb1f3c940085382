using ExportJobs.Service.Access;
using ExportJobs.Service.Datasets;
using ExportJobs.Service.Http;
using ExportJobs.Service.Idempotency;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Identities;
using ExportJobs.Service.MergePolicies;
using ExportJobs.Service.Schedules;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Output;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service;

public static class ExportJobsServiceCollectionExtensions
{
    /// <summary>Everything the export jobs service needs, whatever the host: options, storage, workflow steps, handlers.</summary>
    public static IServiceCollection AddExportJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ExportStorageOptions>()
            .Bind(configuration.GetSection(ExportStorageOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddOptions<ApiAccessOptions>().Bind(configuration.GetSection(ApiAccessOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ApiAccessOptions>, ApiAccessOptionsValidator>();
        services.AddOptions<ApiLimitsOptions>().Bind(configuration.GetSection(ApiLimitsOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<SigningKeyRing>();
        services.AddSingleton<ApiAccess>();
        services.AddSingleton<ApiRequests>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<StorageClients>();
        services.AddSingleton<JobStore>();
        services.AddSingleton<DatasetStore>();
        services.AddSingleton<FragmentFileCache>();
        services.AddSingleton<ProfileStore>();
        services.AddSingleton<IShardReadingJobs, RunningJobs>();
        services.AddSingleton<ShardCompactor>();
        services.AddSingleton<DatasetBatchFiles>();
        services.AddSingleton<ShardExporter>();
        services.AddSingleton<ShardProfiles>();
        services.AddSingleton<ChangeStates>();
        services.AddSingleton<ShardReadGate>();
        services.AddSingleton<ExportJobSteps>();
        services.AddSingleton<BackgroundCompaction>();
        services.AddMetrics();
        services.AddSingleton<Telemetry.ExportTelemetry>();
        services.AddOptions<IdempotencyOptions>().Bind(configuration.GetSection(IdempotencyOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<ExportJobCreator>();
        services.AddSingleton<ExportJobsHandler>();
        services.AddSingleton<BatchIngestor>();
        services.AddSingleton<DatasetsHandler>();
        services.AddOptions<ScheduleOptions>().Bind(configuration.GetSection(ScheduleOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<ScheduleStore>();
        services.AddSingleton<SchedulesHandler>();
        services.AddSingleton<ScheduleRunner>();
        services.AddOptions<WatchdogOptions>().Bind(configuration.GetSection(WatchdogOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<JobWatchdog>();
        services.AddSingleton<IWatchedJobs, WatchedExportJobs>();
        services.AddSingleton<IWatchedJobs, Segments.WatchedSegmentJobs>();
        services.AddOptions<CallbackOptions>().Bind(configuration.GetSection(CallbackOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IHostResolver, DnsHostResolver>();
        services.AddHttpClient(CallbackNotifier.HttpClientName).ConfigurePrimaryHttpMessageHandler(sp =>
            CallbackConnector.CreateHandler(sp.GetRequiredService<IHostResolver>(), sp.GetRequiredService<IOptions<CallbackOptions>>().Value.AllowLoopback));
        services.AddSingleton<CallbackNotifier>();
        services.AddSingleton<MergePolicyStore>();
        services.AddSingleton<MergePoliciesHandler>();
        services.AddSingleton<IdentitySettingsStore>();
        services.AddSingleton<IdentitySettingsHandler>();
        services.AddSingleton<ShardLinks>();
        services.AddSingleton<GraphFiles>();
        services.AddSingleton<SupersededBuilds>();
        services.AddSingleton<GraphShuffle>();
        services.AddSingleton<IdentityGraphBuilder>();
        services.AddSingleton<Segments.SegmentDefinitionStore>();
        services.AddSingleton<Segments.SegmentDefinitionsHandler>();
        services.AddSingleton<Segments.SegmentJobStore>();
        services.AddSingleton<Segments.SegmentJobCreator>();
        services.AddSingleton<Segments.SegmentJobSteps>();
        services.AddSingleton<Segments.SegmentJobsHandler>();
        services.AddSingleton<Console.ConsoleFiles>();
        services.AddHostedService<StorageInitializer>();
        services.AddSingleton<IngestionWarmUp>();
        services.AddHostedService(sp => sp.GetRequiredService<IngestionWarmUp>());
        return services;
    }

    /// <summary>Creates the tables and containers at start-up.</summary>
    private sealed class StorageInitializer(StorageClients clients) : IHostedService
    {
        public Task StartAsync(CancellationToken ct) => clients.EnsureCreatedAsync(ct);
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    }
}
