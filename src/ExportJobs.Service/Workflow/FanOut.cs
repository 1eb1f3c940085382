using Microsoft.DurableTask;

namespace ExportJobs.Service.Workflow;

/// <summary>An orchestration's fan-out: one activity per input, at most a given number running at once.</summary>
public static class FanOut
{
    /// <summary>
    /// The results of the activities (in the order they finished), and whether <paramref name="cancel"/> came first:
    /// then no activity starts after it, the running ones are waited for (their files must land before cleanup), and
    /// the results are those that came before it. When one fails, the running ones are waited for too, then its failure
    /// is thrown.
    /// </summary>
    public static async Task<(List<TOut> Results, bool Cancelled)> RunAsync<TIn, TOut>(TaskOrchestrationContext context, string activity, IReadOnlyList<TIn> inputs, int maxParallel,
        TaskOptions options, Task? cancel = null)
    {
        var running = new List<Task<TOut>>();
        var results = new List<TOut>();
        int next = 0;
        try
        {
            while (next < inputs.Count || running.Count > 0)
            {
                while (next < inputs.Count && running.Count < maxParallel)
                    running.Add(context.CallActivityAsync<TOut>(activity, inputs[next++], options));

                // The cancel event first: when it and an activity have both come, the cancel wins and nothing further starts.
                var finished = await Task.WhenAny(cancel is null ? running : running.Prepend(cancel));
                if (finished == cancel)
                {
                    await SettleAsync(running);
                    return (results, true);
                }
                var done = (Task<TOut>)finished;
                running.Remove(done);
                results.Add(await done);
            }
            return (results, false);
        }
        catch (TaskFailedException)
        {
            await SettleAsync(running);
            throw;
        }
    }

    /// <summary>Waits for the activities still running, whatever their outcome.</summary>
    private static async Task SettleAsync<T>(List<Task<T>> running)
    {
        try
        {
            await Task.WhenAll(running);
        }
        catch (TaskFailedException)
        {
            // Only their completion matters here; the caller ends cancelled or failed.
        }
    }
}
