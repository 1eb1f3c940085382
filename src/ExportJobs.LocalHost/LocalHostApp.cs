using ExportJobs.Functions;
using ExportJobs.Service;
using ExportJobs.Service.Access;
using ExportJobs.Service.Http;
using ExportJobs.Service.Telemetry;
using ExportJobs.Service.Workflow;
using Grpc.Net.Client;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Client.Grpc;
using Microsoft.DurableTask.Worker;
using Microsoft.DurableTask.Worker.Grpc;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ExportJobs.LocalHost;

/// <summary>The Function App without Functions Core Tools: same routes, handlers, orchestration and activities.</summary>
public static class LocalHostApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // Content root is the app's folder, so appsettings.json is found whatever the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        builder.Services.Configure<HostOptions>(o =>
        {
            // The worker's open work-item stream otherwise holds shutdown for the whole timeout.
            o.ServicesStopConcurrently = true;
            o.ShutdownTimeout = TimeSpan.FromSeconds(15);
        });
        builder.Services.Configure<DurableOptions>(builder.Configuration.GetSection("DurableTask"));

        // The sidecar is registered first so that it listens before the worker connects to it.
        builder.Services.AddSingleton<DurableSidecar>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DurableSidecar>());
        builder.Services.AddSingleton(sp => GrpcChannel.ForAddress(sp.GetRequiredService<DurableSidecar>().Address));
        builder.Services.AddDurableTaskWorker(b =>
        {
            b.AddTasks(ExportWorkflow.Register);
            b.UseGrpc();
        });
        builder.Services.AddDurableTaskClient(b =>
        {
            b.UseGrpc();
            b.RegisterDirectly();
        });
        builder.Services.AddOptions<GrpcDurableTaskWorkerOptions>(Microsoft.Extensions.Options.Options.DefaultName)
            .Configure<GrpcChannel>((o, channel) => o.Channel = channel);
        builder.Services.AddOptions<GrpcDurableTaskClientOptions>(Microsoft.Extensions.Options.Options.DefaultName)
            .Configure<GrpcChannel>((o, channel) => o.Channel = channel);

        builder.Services.AddExportJobs(builder.Configuration);
        LocalTimer.AddTo(builder.Services);
        AddTelemetry(builder);
        // Body limits are the service's own (ExportJobs:Limits), answered as problems.
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);

        DevelopmentTokens? devTokens = null;
        if (builder.Configuration.GetValue("LocalHost:DevelopmentTokens", false))
        {
            devTokens = DevelopmentTokens.LoadOrCreate(builder.Configuration["LocalHost:DevKeyPath"] ?? ".local/dev-signing-key.pem");
            builder.Services.AddSingleton(devTokens.TrustedKey);
        }

        builder.Services.AddSingleton(new UnmatchedRequests(UnmatchedFunctions.DeclaredRoutes()));

        var app = builder.Build();
        app.UseApiProblems();
        app.MapFunctions();
        if (devTokens is not null) app.MapPost(DevelopmentTokens.Route, (HttpContext c, IOptions<ApiAccessOptions> o) => devTokens.Issue(c, o));
        return app;
    }

    /// <summary>
    /// Traces (HTTP requests, the service's job spans, the Durable Task SDK's) and the job counters, written to the
    /// console when <c>LocalHost:ConsoleTelemetry</c> is true (off by default: thousands of lines a minute); logs carry their scopes (job id, org, sandbox).
    /// </summary>
    private static void AddTelemetry(WebApplicationBuilder builder)
    {
        bool console = builder.Configuration.GetValue("LocalHost:ConsoleTelemetry", false);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("exportjobs-localhost"))
            .WithTracing(t =>
            {
                t.AddAspNetCoreInstrumentation().AddSource(ExportTelemetry.Name, "Microsoft.DurableTask");
                if (console) t.AddConsoleExporter();
            })
            .WithMetrics(m =>
            {
                m.AddMeter(ExportTelemetry.Name);
                if (console) m.AddConsoleExporter();
            });
    }
}
