using System.Reflection;
using ExportJobs.LocalHost;
using ExportJobs.Service.Http;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Functions.Tests;

public class RouteParityTests
{
    internal static SortedSet<string> FunctionAppRoutes() =>
        new(UnmatchedFunctions.DeclaredRoutes().Select(r => $"{r.Method} /{r.Template}"));

    internal static SortedSet<string> LocalHostRoutes()
    {
        var app = LocalHostApp.Build([], b => b.Configuration.AddInMemoryCollection(TestStorage.Settings("routes")));
        return new(((IEndpointRouteBuilder)app).DataSources.SelectMany(source => FunctionEndpoints.Mapped(source)).Select(r => $"{r.Method} /{r.Template}"));
    }

    [Fact]
    public void Both_hosts_run_the_same_timers()
    {
        var functionTimers = typeof(ExportJobFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods()).SelectMany(m => m.GetParameters())
            .Select(p => p.GetCustomAttribute<TimerTriggerAttribute>()).OfType<TimerTriggerAttribute>()
            .Select(t => t.Schedule).Order().ToList();
        var app = LocalHostApp.Build([], b => b.Configuration.AddInMemoryCollection(TestStorage.Settings("timers")));
        var localTimers = app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<LocalTimer>().ToList();
        Assert.Equal(["schedules", "watchdog"], localTimers.Select(t => t.Name).Order());
        Assert.Equal(functionTimers, localTimers.Select(t => t.Cron).Order());
    }

    [Fact]
    public void Both_hosts_run_the_same_orchestrations_and_activities()
    {
        var functions = typeof(ExportJobFunctions).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .Where(m => m.GetParameters().Any(p => p.GetCustomAttribute<OrchestrationTriggerAttribute>() is not null || p.GetCustomAttribute<ActivityTriggerAttribute>() is not null))
            .Select(m => m.GetCustomAttribute<FunctionAttribute>()!.Name).Order().ToList();
        var localHost = typeof(ExportWorkflow).Assembly.GetTypes()
            .Select(t => t.GetCustomAttribute<Microsoft.DurableTask.DurableTaskAttribute>()?.Name.Name).OfType<string>().Order().ToList();
        Assert.Contains(TaskNames.CompactionOrchestrator, functions);
        Assert.Equal(functions, localHost);
    }

    [Fact]
    public void Both_hosts_expose_the_same_routes()
    {
        var functions = FunctionAppRoutes();
        Assert.Contains("GET /data/core/ups/export/jobs/{id}", functions);
        Assert.Equal(functions, LocalHostRoutes());
    }
}
