using System.Runtime.InteropServices;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Apache Arrow's C++ Parquet reader (ParquetSharp), which reads fragment files, allocates from the C library here, not
/// from mimalloc (Arrow's default), which kept what reads had freed: at N = 1,000,000 the floors' process peaked at
/// 449 MB with mimalloc and 386–403 MB without, the hosts' exports at 436–459 MB and 382–411 MB (performance.md,
/// "Fragment files read by Apache Parquet C++"). Arrow reads its choice once, from the process's environment
/// (<c>ARROW_DEFAULT_MEMORY_POOL</c>), at its first allocation, so it is set there as a host starts
/// (<see cref="ExportJobsServiceCollectionExtensions.AddExportJobs"/>) and in any case before a file is read, unless
/// the environment already names a pool; Arrow's reader properties name a pool too, but its reads of a file's bytes
/// ignore it. On Linux only, and on a C library other than glibc (no <c>libc.so.6</c>) not at all. The C library's own
/// arenas are capped where the hosts start (<c>MALLOC_ARENA_MAX</c>, an app setting: it is read as a process starts).
/// </summary>
internal static class NativeAllocators
{
    public const string ArrowPool = "ARROW_DEFAULT_MEMORY_POOL";
    private static int _configured;

    public static void Configure()
    {
        if (!OperatingSystem.IsLinux() || Interlocked.Exchange(ref _configured, 1) == 1) return;
        try
        {
            if (setenv(ArrowPool, "system", overwrite: 0) != 0)
                throw new InvalidOperationException($"Could not set {ArrowPool}: error {Marshal.GetLastPInvokeError()}.");
        }
        catch (DllNotFoundException)
        {
            // Not glibc: Arrow's default stays.
        }
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
