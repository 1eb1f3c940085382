using ExportJobs.TestSupport;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Testing;

namespace ExportJobs.Service.Tests;

/// <summary>
/// Starts a <see cref="DurableTaskTestHost"/> on a port the system reports free. Left to itself it picks a port at
/// random in 30000–40000, inside Linux's ephemeral range, so one of the test's own connections (to Azurite) can hold
/// it and the start fails with "address already in use"; a port free a moment ago can still be taken, so a start that
/// fails so is tried again on another.
/// </summary>
internal static class DurableTestHost
{
    public static async Task<DurableTaskTestHost> StartAsync(Action<DurableTaskRegistry> registry, DurableTaskTestHostOptions? options = null)
    {
        options ??= new DurableTaskTestHostOptions();
        for (int attempt = 1; ; attempt++)
        {
            options.Port = LoopbackPorts.Free();
            try
            {
                return await DurableTaskTestHost.StartAsync(registry, options);
            }
            catch (IOException) when (attempt < 5)
            {
            }
        }
    }
}
