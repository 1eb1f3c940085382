using System.Collections.Concurrent;
using DurableTask.Core;

namespace ExportJobs.LocalHost;

/// <summary>
/// Keeps the lock of each running activity: the in-process sidecar's dispatcher (durabletask-dotnet's
/// InProcessTestHost) never renews a work item, so an activity that runs longer than the work-item visibility timeout
/// would reappear in the queue and run a second time. This renews every running activity's lock each
/// <paramref name="interval"/> until it completes or is abandoned — what DurableTask.Core's own dispatcher does under
/// the Functions host — so the visibility timeout can be short (a dead host's activities return within it) without
/// running a long shard twice. Everything else goes straight to <paramref name="inner"/>.
/// </summary>
public sealed class ActivityLockRenewal(IOrchestrationService inner, TimeSpan interval, ILogger log) : IOrchestrationService
{
    private readonly ConcurrentDictionary<string, (CancellationTokenSource Stop, Task Loop)> _running = new();
    private readonly Lock _stopGate = new();
    private Task? _stop;
    private Task? _start;

    public async Task<TaskActivityWorkItem> LockNextTaskActivityWorkItem(TimeSpan receiveTimeout, CancellationToken cancellationToken)
    {
        var workItem = await inner.LockNextTaskActivityWorkItem(receiveTimeout, cancellationToken);
        if (workItem is not null)
        {
            var stop = new CancellationTokenSource();
            _running[workItem.Id] = (stop, RenewAsync(workItem, stop.Token));
        }
        return workItem!;
    }

    public async Task CompleteTaskActivityWorkItemAsync(TaskActivityWorkItem workItem, TaskMessage responseMessage)
    {
        await StopRenewingAsync(workItem);
        await inner.CompleteTaskActivityWorkItemAsync(workItem, responseMessage);
    }

    public async Task AbandonTaskActivityWorkItemAsync(TaskActivityWorkItem workItem)
    {
        await StopRenewingAsync(workItem);
        await inner.AbandonTaskActivityWorkItemAsync(workItem);
    }

    public Task<TaskActivityWorkItem> RenewTaskActivityWorkItemLockAsync(TaskActivityWorkItem workItem) => inner.RenewTaskActivityWorkItemLockAsync(workItem);

    private async Task RenewAsync(TaskActivityWorkItem workItem, CancellationToken stop)
    {
        while (true)
        {
            try
            {
                await Task.Delay(interval, stop);
                await inner.RenewTaskActivityWorkItemLockAsync(workItem);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The next renewal may succeed; if none does, the work item is delivered again, as without renewal.
                log.LogWarning(e, "Could not renew the lock of activity work item {WorkItem}", workItem.Id);
            }
        }
    }

    /// <summary>Ends the renewals and waits for one in flight: completing while a renewal changes the message's receipt would fail.</summary>
    private async Task StopRenewingAsync(TaskActivityWorkItem workItem)
    {
        if (!_running.TryRemove(workItem.Id, out var renewal)) return;
        await renewal.Stop.CancelAsync();
        await renewal.Loop;
        renewal.Stop.Dispose();
    }

    /// <summary>Starts the backend, unless it was stopped: a host that stops does not start it again.</summary>
    public Task StartAsync()
    {
        lock (_stopGate)
        {
            if (_stop is not null) return Task.CompletedTask;
            return _start ??= inner.StartAsync();
        }
    }

    public Task StopAsync() => StopAsync(isForced: false);

    /// <summary>
    /// Stops the backend once (the LocalHost stops it, and the sidecar's dispatcher may stop it again later), and the
    /// renewals: an activity this host will not finish shows again after the visibility timeout, for another host. A
    /// backend never started has nothing to stop (the host's start failed before its worker connected: its port was
    /// taken), and one still starting is stopped once its start is done: the backend's stop throws on a backend whose
    /// start has not finished, and the sidecar's dispatcher, which stops it when its host stops, lets that throw end the
    /// process.
    /// </summary>
    public Task StopAsync(bool isForced)
    {
        lock (_stopGate)
        {
            foreach (var (stop, _) in _running.Values)
            {
                try
                {
                    stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // Its work item completed meanwhile.
                }
            }
            return _stop ??= _start is null ? Task.CompletedTask : StopOnceStartedAsync(_start, isForced);
        }
    }

    private async Task StopOnceStartedAsync(Task start, bool isForced)
    {
        try
        {
            await start;
        }
        catch (Exception e)
        {
            // A start that failed has been reported to the dispatcher that asked for it; there is no stop to make.
            log.LogWarning(e, "The Durable Task backend did not start, so it is not stopped");
            return;
        }
        try
        {
            await inner.StopAsync(isForced);
        }
        catch (Exception e)
        {
            // Thrown on, it would end the process from the dispatcher's callback. Leases not released expire
            // (DurableTask:LeaseIntervalSeconds), and the messages this host held show again after their visibility timeout.
            log.LogError(e, "The Durable Task backend did not stop cleanly");
        }
    }

    public Task CreateAsync() => inner.CreateAsync();
    public Task CreateAsync(bool recreateInstanceStore) => inner.CreateAsync(recreateInstanceStore);
    public Task CreateIfNotExistsAsync() => inner.CreateIfNotExistsAsync();
    public Task DeleteAsync() => inner.DeleteAsync();
    public Task DeleteAsync(bool deleteInstanceStore) => inner.DeleteAsync(deleteInstanceStore);
    public bool IsMaxMessageCountExceeded(int currentMessageCount, OrchestrationRuntimeState runtimeState) => inner.IsMaxMessageCountExceeded(currentMessageCount, runtimeState);
    public int GetDelayInSecondsAfterOnProcessException(Exception exception) => inner.GetDelayInSecondsAfterOnProcessException(exception);
    public int GetDelayInSecondsAfterOnFetchException(Exception exception) => inner.GetDelayInSecondsAfterOnFetchException(exception);
    public int TaskOrchestrationDispatcherCount => inner.TaskOrchestrationDispatcherCount;
    public int MaxConcurrentTaskOrchestrationWorkItems => inner.MaxConcurrentTaskOrchestrationWorkItems;
    public BehaviorOnContinueAsNew EventBehaviourForContinueAsNew => inner.EventBehaviourForContinueAsNew;
    public Task<TaskOrchestrationWorkItem> LockNextTaskOrchestrationWorkItemAsync(TimeSpan receiveTimeout, CancellationToken cancellationToken) =>
        inner.LockNextTaskOrchestrationWorkItemAsync(receiveTimeout, cancellationToken);
    public Task RenewTaskOrchestrationWorkItemLockAsync(TaskOrchestrationWorkItem workItem) => inner.RenewTaskOrchestrationWorkItemLockAsync(workItem);
    public Task CompleteTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem, OrchestrationRuntimeState newOrchestrationRuntimeState,
        IList<TaskMessage> outboundMessages, IList<TaskMessage> orchestratorMessages, IList<TaskMessage> timerMessages,
        TaskMessage continuedAsNewMessage, OrchestrationState orchestrationState) =>
        inner.CompleteTaskOrchestrationWorkItemAsync(workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages, timerMessages, continuedAsNewMessage, orchestrationState);
    public Task AbandonTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.AbandonTaskOrchestrationWorkItemAsync(workItem);
    public Task ReleaseTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.ReleaseTaskOrchestrationWorkItemAsync(workItem);
    public int TaskActivityDispatcherCount => inner.TaskActivityDispatcherCount;
    public int MaxConcurrentTaskActivityWorkItems => inner.MaxConcurrentTaskActivityWorkItems;
}
