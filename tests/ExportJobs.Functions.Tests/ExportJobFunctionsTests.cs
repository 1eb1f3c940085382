using System.Text.Json.Nodes;
using ExportJobs.Core.Jobs;
using ExportJobs.Service.Jobs;
using ExportJobs.Service.Workflow;
using ExportJobs.TestSupport;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Moq;

namespace ExportJobs.Functions.Tests;

/// <summary>The HTTP functions as the Functions host calls them: real handler and storage, a mocked Durable client.</summary>
public class ExportJobFunctionsTests
{
    private readonly Mock<DurableTaskClient> _client = new("test");

    private static async Task<(int Status, JsonNode? Body)> RunAsync(HttpRequest request, Task<IActionResult> action)
    {
        var result = Assert.IsType<ResultAction>(await action);
        return await HandlerCall.ReadAsync(result.Result, request.HttpContext);
    }

    private static string Payload(string datasetId) =>
        $$$"""{"fields":"personalEmail.address","filter":{"segments":[{"segmentId":"seg-a"}]},"destination":{"datasetId":"{{{datasetId}}}"},"schema":{"name":"_xdm.context.profile"}}""";

    [Fact]
    public async Task Create_schedules_the_export_orchestration_for_the_new_job()
    {
        await using var harness = await ServiceHarness.StartAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: false);
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? o, CancellationToken _) => o!.InstanceId!);
        var functions = new ExportJobFunctions(harness.Get<ExportJobsHandler>());

        var request = harness.Call.Request(Payload(dataset));
        var (status, body) = await RunAsync(request, functions.Create(request, _client.Object, default));

        Assert.Equal(200, status);
        Assert.Equal("NEW", (string)body!["status"]!);
        long id = (long)body["id"]!;
        string instance = (string)body["computeGatewayJobId"]!["exportJob"]!;
        _client.Verify(c => c.ScheduleNewOrchestrationInstanceAsync(
            It.Is<TaskName>(n => n.Name == TaskNames.ExportJobOrchestrator),
            It.Is<object?>(input => input is ExportJobInput && ((ExportJobInput)input).JobId == id && ((ExportJobInput)input).OrgId == harness.Call.Org),
            It.Is<StartOrchestrationOptions?>(o => o!.InstanceId == instance),
            It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task A_job_whose_orchestration_cannot_start_answers_503_and_is_left_failed_not_new()
    {
        await using var harness = await ServiceHarness.StartAsync();
        string dataset = await harness.CreateDatasetAsync(profileEnabled: false);
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("task hub unreachable"));
        var functions = new ExportJobFunctions(harness.Get<ExportJobsHandler>());

        var request = harness.Call.Request(Payload(dataset));
        var (status, body) = await RunAsync(request, functions.Create(request, _client.Object, default));

        Assert.Equal(503, status);
        Assert.Equal("application/problem+json", request.HttpContext.Response.ContentType);
        var job = Assert.Single((await harness.Get<JobStore>().ListAsync(harness.Tenant, new JobListQuery(10, null, null, null), default)).Jobs);
        Assert.Equal(JobStatus.Failed, job.Status);
        Assert.Equal(ExportErrorCodes.ScheduleFailed, Assert.Single(job.Errors!).Code);
        Assert.Contains(job.Id.ToString(), (string)body!["detail"]!);
    }

    [Fact]
    public async Task An_invalid_payload_answers_400_naming_the_field_and_creates_nothing()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var functions = new ExportJobFunctions(harness.Get<ExportJobsHandler>());

        var request = harness.Call.Request("""{"schema":{"name":"_xdm.context.profile"},"destination":{"datasetId":"nosuchdataset"}}""");
        var (status, body) = await RunAsync(request, functions.Create(request, _client.Object, default));

        Assert.Equal(400, status);
        Assert.Equal("destination.datasetId", (string)body!["field"]!);
        Assert.Empty((await harness.Get<JobStore>().ListAsync(harness.Tenant, new JobListQuery(10, null, null, null), default)).Jobs);
        _client.VerifyNoOtherCalls();
    }

    [Fact]
    public async Task Delete_signals_a_running_job_to_cancel_and_removes_an_ended_one()
    {
        await using var harness = await ServiceHarness.StartAsync();
        var store = harness.Get<JobStore>();
        ExportJob Job(long id, string status) => new()
        {
            Id = id, Status = status, ImsOrgId = harness.Call.Org, Schema = new SchemaRef { Name = "s" },
            Destination = new JobDestination { DatasetId = "d", BatchId = "b" },
            ComputeGatewayJobId = new ComputeGatewayJobId(TaskNames.InstanceIdOf(harness.Call.Org, harness.Call.Sandbox, id)),
        };
        var running = await store.CreateAsync(harness.Tenant, id => Job(id, JobStatus.Processing), default);
        var ended = await store.CreateAsync(harness.Tenant, id => Job(id, JobStatus.Succeeded), default);
        var functions = new ExportJobFunctions(harness.Get<ExportJobsHandler>());

        var first = harness.Call.Request();
        var (status, body) = await RunAsync(first, functions.Delete(first, running.Id.ToString(), _client.Object, default));
        Assert.Equal(200, status);
        Assert.Equal(ExportJobsHandler.CancellingMessage, (string)body!["message"]!);
        _client.Verify(c => c.RaiseEventAsync(running.ComputeGatewayJobId!.ExportJob, TaskNames.CancelEvent, true, It.IsAny<CancellationToken>()), Times.Once);
        Assert.Equal(JobStatus.Cancelling, (await store.GetAsync(harness.Tenant, running.Id, default))!.Status);

        var second = harness.Call.Request();
        (status, body) = await RunAsync(second, functions.Delete(second, ended.Id.ToString(), _client.Object, default));
        Assert.Equal(200, status);
        Assert.Equal(ExportJobsHandler.DeletedMessage, (string)body!["message"]!);
        Assert.Null(await store.GetAsync(harness.Tenant, ended.Id, default));
        _client.VerifyNoOtherCalls();

        var third = harness.Call.Request();
        (status, _) = await RunAsync(third, functions.Get(third, ended.Id.ToString(), default));
        Assert.Equal(404, status);
    }
}
