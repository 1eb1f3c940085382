using DurableTask.Core;
using ExportJobs.LocalHost;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;

namespace ExportJobs.Functions.Tests;

/// <summary>The LocalHost's backend is stopped once, only if it was started, and not before its start is done.</summary>
public sealed class ActivityLockRenewalStopTests
{
    private static (ActivityLockRenewal Renewal, Mock<IOrchestrationService> Backend) Renewal()
    {
        var backend = new Mock<IOrchestrationService>(MockBehavior.Strict);
        backend.Setup(b => b.StartAsync()).Returns(Task.CompletedTask);
        backend.Setup(b => b.StopAsync(It.IsAny<bool>())).Returns(Task.CompletedTask);
        return (new ActivityLockRenewal(backend.Object, TimeSpan.FromSeconds(1), NullLogger.Instance), backend);
    }

    [Fact]
    public async Task A_backend_never_started_is_not_stopped_nor_started_after_the_stop()
    {
        var (renewal, backend) = Renewal();

        await renewal.StopAsync(isForced: true);
        await renewal.StartAsync();

        backend.Verify(b => b.StopAsync(It.IsAny<bool>()), Times.Never);
        backend.Verify(b => b.StartAsync(), Times.Never);
    }

    [Fact]
    public async Task A_started_backend_is_stopped_once_however_often_it_is_told_to()
    {
        var (renewal, backend) = Renewal();

        await renewal.StartAsync();
        await renewal.StopAsync(isForced: true);
        await renewal.StopAsync();

        backend.Verify(b => b.StartAsync(), Times.Once);
        backend.Verify(b => b.StopAsync(true), Times.Once);
        backend.Verify(b => b.StopAsync(It.IsAny<bool>()), Times.Once);
    }

    [Fact]
    public async Task A_backend_still_starting_is_stopped_once_its_start_is_done()
    {
        var (renewal, backend) = Renewal();
        var start = new TaskCompletionSource();
        backend.Setup(b => b.StartAsync()).Returns(start.Task);

        var starting = renewal.StartAsync();
        var stopping = renewal.StopAsync(isForced: true);

        Assert.False(stopping.IsCompleted);
        backend.Verify(b => b.StopAsync(It.IsAny<bool>()), Times.Never);
        start.SetResult();
        await starting;
        await stopping;
        backend.Verify(b => b.StopAsync(true), Times.Once);
    }

    [Fact]
    public async Task A_backend_whose_start_failed_is_not_stopped()
    {
        var (renewal, backend) = Renewal();
        backend.Setup(b => b.StartAsync()).ThrowsAsync(new InvalidOperationException("no storage"));

        await Assert.ThrowsAsync<InvalidOperationException>(renewal.StartAsync);
        await renewal.StopAsync(isForced: true);

        backend.Verify(b => b.StopAsync(It.IsAny<bool>()), Times.Never);
    }

    [Fact]
    public async Task A_stop_that_fails_is_logged_not_thrown_where_it_would_end_the_process()
    {
        var (renewal, backend) = Renewal();
        backend.Setup(b => b.StopAsync(It.IsAny<bool>())).ThrowsAsync(new NullReferenceException());

        await renewal.StartAsync();
        await renewal.StopAsync(isForced: true);

        backend.Verify(b => b.StopAsync(true), Times.Once);
    }
}
