using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using ExportJobs.Service.Telemetry;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class TelemetryEndToEndTests(LocalHostFixture host)
{
    /// <summary>The caller's W3C traceparent reaches the HTTP span, and from it every step of the job the request created.</summary>
    [Fact]
    public async Task A_request_trace_reaches_every_step_of_the_job_it_created()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is ExportTelemetry.Name or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);

        var client = host.Client();
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "export/jobs")
        {
            Content = JsonContent.Create(new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        var created = await LocalHostFixture.ReadAsync(await client.SendAsync(request), HttpStatusCode.OK);
        long id = (long)created["id"]!;
        await LocalHostFixture.WaitForJobAsync(client, id, s => s == "SUCCEEDED");

        var trace = await ExportJobs.TestSupport.Poll.UntilAsync(() => Task.FromResult(spans.Where(s => s.TraceId == traceId).ToList()),
            t => t.Any(s => s.OperationName == "export.finalize"), LocalHostFixture.Deadline, "the finalize span");
        Assert.Contains(trace, s => s.Source.Name == "Microsoft.AspNetCore");
        Assert.Contains(trace, s => s.OperationName == "export.create");
        Assert.Contains(trace, s => s.OperationName == "export.prepare");
        Assert.All(trace.Where(s => s.Source.Name == ExportTelemetry.Name && s.OperationName != "export.create"),
            s => Assert.Equal(id, s.GetTagItem("exportjobs.job.id")));
    }
}
