namespace ExportJobs.TestSupport;

/// <summary>Waits for a condition by polling, up to a deadline: never a bare sleep.</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last = await read();
        while (!done(last))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Gave up after {timeout.TotalSeconds:0}s waiting for {what}; last seen: {last}");
            await Task.Delay(200);
            last = await read();
        }
        return last;
    }
}
