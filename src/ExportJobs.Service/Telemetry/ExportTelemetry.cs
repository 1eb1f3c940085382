using System.Diagnostics;
using System.Diagnostics.Metrics;
using ExportJobs.Service.Workflow;
using Microsoft.Extensions.Logging;

namespace ExportJobs.Service.Telemetry;

/// <summary>
/// The service's own telemetry, named <see cref="Name"/> for both its <see cref="ActivitySource"/> and its meter:
/// a span per step of a job, parented to the request that created the job (its W3C <c>traceparent</c> travels in the
/// orchestration input, so one trace runs HTTP → orchestration → activities whichever host runs them); job counters
/// tagged with the organisation and sandbox; and the logging scope (job id, org, sandbox) every step logs in.
/// </summary>
public sealed class ExportTelemetry
{
    public const string Name = "ExportJobs";
    public static readonly ActivitySource Source = new(Name);

    private readonly Counter<long> _started, _succeeded, _failed, _cancelled, _profiles;

    public ExportTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(Name);
        _started = meter.CreateCounter<long>("exportjobs.jobs.started", "{job}", "Export jobs that started processing.");
        _succeeded = meter.CreateCounter<long>("exportjobs.jobs.succeeded", "{job}", "Export jobs that ended SUCCEEDED.");
        _failed = meter.CreateCounter<long>("exportjobs.jobs.failed", "{job}", "Export jobs that ended FAILED.");
        _cancelled = meter.CreateCounter<long>("exportjobs.jobs.cancelled", "{job}", "Export jobs that ended CANCELLED.");
        _profiles = meter.CreateCounter<long>("exportjobs.profiles.exported", "{profile}", "Profiles written by jobs that succeeded.");
    }

    public void Started(ExportJobInput job) => _started.Add(1, Tags(job));

    public void Succeeded(ExportJobInput job, long profiles)
    {
        _succeeded.Add(1, Tags(job));
        _profiles.Add(profiles, Tags(job));
    }

    public void Failed(ExportJobInput job) => _failed.Add(1, Tags(job));

    public void Cancelled(ExportJobInput job) => _cancelled.Add(1, Tags(job));

    private static TagList Tags(ExportJobInput job) => new() { { "org", job.OrgId }, { "sandbox", job.Sandbox } };

    /// <summary>The current span's W3C id, to carry into the orchestration; null when nothing is traced.</summary>
    public static string? CurrentTraceParent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>A span for one step of a job (of a group of its shards), a child of the request that created it.</summary>
    public static Activity? StartStep(string step, ExportJobInput job, int[]? shards = null)
    {
        ActivityContext.TryParse(job.TraceParent, null, out var parent);
        var span = Source.StartActivity($"export.{step}", ActivityKind.Internal, parent);
        span?.SetTag("exportjobs.job.id", job.JobId).SetTag("exportjobs.org", job.OrgId).SetTag("exportjobs.sandbox", job.Sandbox);
        if (shards is not null) span?.SetTag("exportjobs.shards", string.Join(',', shards));
        return span;
    }

    /// <summary>The logging scope of a job's work: <c>JobId</c>, <c>OrgId</c>, <c>Sandbox</c> on every entry.</summary>
    public static IDisposable? Scope(ILogger log, string orgId, string sandbox, long jobId) =>
        log.BeginScope("JobId:{JobId} OrgId:{OrgId} Sandbox:{Sandbox}", jobId, orgId, sandbox);
}
