using System.Net;
using System.Net.Sockets;
using DurableTask.AzureStorage;
using DurableTask.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.Extensions.Options;

namespace ExportJobs.LocalHost;

/// <summary>Settings of the Durable Task engine under the LocalHost (section <c>DurableTask</c>).</summary>
public sealed class DurableOptions
{
    public string HubName { get; set; } = "ExportJobsLocal";
    public int PartitionCount { get; set; } = 4;
    public int MaxQueuePollingIntervalSeconds { get; set; } = 1;
    /// <summary>Port of the in-process gRPC sidecar on loopback; 0 picks a free one.</summary>
    public int SidecarPort { get; set; }

    /// <summary>
    /// How long a message taken by a host that dies stays hidden before another host (or the same one, restarted) gets
    /// it. A running activity's lock is renewed (<see cref="ActivityLockRenewal"/>), so a shard may run longer than this.
    /// </summary>
    public int VisibilityTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a partition lease lasts: a dead host's partitions move to a live one after it.</summary>
    public int LeaseIntervalSeconds { get; set; } = 30;

    /// <summary>
    /// Activities this host runs at once; more wait in the task hub's queue for any host (host.json:
    /// maxConcurrentActivityFunctions). Shard reads among them are bounded apart (ExportJobs:MaxShardReadsPerHost), so
    /// the short steps of small jobs do not queue behind long shard reads.
    /// </summary>
    public int MaxConcurrentActivities { get; set; } = 8;

    /// <summary>Orchestrations this host runs at once (host.json: maxConcurrentOrchestratorFunctions).</summary>
    public int MaxConcurrentOrchestrations { get; set; } = 8;
}

/// <summary>
/// What Functions' Durable extension does on Azure, done in-process: a gRPC sidecar (the Durable Task SDK's own
/// <see cref="TaskHubGrpcServer"/>) over the Durable Task Azure Storage backend. The worker and client of this host
/// talk to it as they would to the Functions host. Several LocalHosts on one task hub share its work.
/// </summary>
public sealed class DurableSidecar(IConfiguration configuration, IOptions<DurableOptions> options, ILoggerFactory loggers) : IHostedService
{
    private WebApplication? _sidecar;
    private ActivityLockRenewal? _service;

    public int Port { get; } = options.Value.SidecarPort != 0 ? options.Value.SidecarPort : FreeLoopbackPort();

    public string Address => $"http://127.0.0.1:{Port}";

    /// <summary>
    /// This host's name in the task hub's partition table. The backend's default, the machine's name, is the same for
    /// every host of a machine, and hosts of one name each take every partition as their own; a host is named by its
    /// machine and address instead, so that a host restarted at the same address takes its partitions back at once.
    /// </summary>
    public string WorkerId { get; } = $"{Environment.MachineName}/{configuration["urls"] ?? "default"}";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var service = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            StorageAccountClientProvider = new StorageAccountClientProvider(configuration["AzureWebJobsStorage"]
                ?? throw new InvalidOperationException("AzureWebJobsStorage (the Durable Task storage) is not configured.")),
            TaskHubName = o.HubName,
            WorkerId = WorkerId,
            PartitionCount = o.PartitionCount,
            MaxQueuePollingInterval = TimeSpan.FromSeconds(o.MaxQueuePollingIntervalSeconds),
            WorkItemQueueVisibilityTimeout = TimeSpan.FromSeconds(o.VisibilityTimeoutSeconds),
            ControlQueueVisibilityTimeout = TimeSpan.FromSeconds(o.VisibilityTimeoutSeconds),
            LeaseInterval = TimeSpan.FromSeconds(o.LeaseIntervalSeconds),
            LeaseRenewInterval = TimeSpan.FromSeconds(Math.Max(1, o.LeaseIntervalSeconds / 3)),
            LoggerFactory = loggers,
            MaxConcurrentTaskActivityWorkItems = o.MaxConcurrentActivities,
            MaxConcurrentTaskOrchestrationWorkItems = o.MaxConcurrentOrchestrations,
        });
        await service.CreateIfNotExistsAsync();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggers);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, Port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.Configure<HostOptions>(h => h.ServicesStopConcurrently = true);
        builder.Services.AddGrpc();
        // The client side (queries, purges) talks to the backend itself; the dispatchers go through the lock renewal.
        _service = new ActivityLockRenewal(service, TimeSpan.FromSeconds(Math.Max(1, o.VisibilityTimeoutSeconds / 3)), loggers.CreateLogger<ActivityLockRenewal>());
        builder.Services.AddSingleton<IOrchestrationService>(_service);
        builder.Services.AddSingleton<IOrchestrationServiceClient>(service);
        builder.Services.AddSingleton<TaskHubGrpcServer>();
        _sidecar = builder.Build();
        _sidecar.MapGrpcService<TaskHubGrpcServer>();
        await _sidecar.StartAsync(cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_sidecar is null) return;
        await _sidecar.StopAsync(cancellationToken);
        await _sidecar.DisposeAsync();
        // The sidecar's dispatcher stops the backend in the background, and only once every work item it handed out
        // has come back, which a work item dropped by the stopping worker never does: the backend would go on reading
        // the control queues of its partitions and holding their leases for a host that runs nothing. Stopped here,
        // forced: its in-memory messages are dropped (they show again after the visibility timeout) and its leases
        // released, before the host's stop returns.
        await _service!.StopAsync(isForced: true).WaitAsync(cancellationToken);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
