using Azure.Monitor.OpenTelemetry.Exporter;
using ExportJobs.Functions;
using ExportJobs.Service;
using ExportJobs.Service.Http;
using ExportJobs.Service.Telemetry;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
builder.UseMiddleware<ExceptionProblemMiddleware>();
builder.Services.AddExportJobs(builder.Configuration);
builder.Services.AddSingleton(new UnmatchedRequests(UnmatchedFunctions.DeclaredRoutes()));

// Traces and metrics through OpenTelemetry (host.json telemetryMode), to Application Insights when the app has its
// connection string: the Functions worker's spans, the service's job spans and counters, the Durable Task SDK's spans.
var telemetry = builder.Services.AddOpenTelemetry()
    .UseFunctionsWorkerDefaults()
    .WithTracing(t => t.AddSource(ExportTelemetry.Name, "Microsoft.DurableTask"))
    .WithMetrics(m => m.AddMeter(ExportTelemetry.Name));
if (!string.IsNullOrEmpty(builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"])) telemetry.UseAzureMonitorExporter();

builder.Build().Run();
