using System.Runtime.InteropServices;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Apache Arrow (ParquetSharp's native library, which reads fragment files) allocates from mimalloc by default, which
/// kept what shard reads had freed: in the floors' process at N = 1,000,000, peak RSS was 449 MB with it and 386 MB with
/// the C library's allocator (344 MB when Parquet.Net read the files). Arrow reads its choice once, from the process's
/// environment (<c>ARROW_DEFAULT_MEMORY_POOL</c>), at its first allocation, so it is set there before any file is read,
/// unless the environment already names one. Reader properties name a pool too, but reads of the file's bytes ignore it.
/// </summary>
internal static class ArrowAllocator
{
    public const string Variable = "ARROW_DEFAULT_MEMORY_POOL";

    public static void PreferSystemAllocator()
    {
        if (OperatingSystem.IsLinux() && setenv(Variable, "system", overwrite: 0) != 0)
            throw new InvalidOperationException($"Could not set {Variable}: error {Marshal.GetLastPInvokeError()}.");
    }

    [DllImport("libc.so.6", SetLastError = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
