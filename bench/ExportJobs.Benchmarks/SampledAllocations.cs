using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace ExportJobs.Benchmarks;

/// <summary>
/// What this process allocates, by type, as the runtime samples it (an allocation-tick event about every 100 KB, naming
/// the type whose allocation crossed it), from creation to disposal; the largest types are printed on disposal. No
/// tool to attach, so a floor's allocations can be read on any machine the benchmark runs on.
/// </summary>
public sealed class SampledAllocations : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.PayloadNames is not { } names) return;
        int type = names.IndexOf("TypeName"), amount = names.IndexOf("AllocationAmount64");
        if (type < 0 || amount < 0) return;
        long bytes = Convert.ToInt64(e.Payload![amount], CultureInfo.InvariantCulture);
        _bytes.AddOrUpdate((string?)e.Payload[type] ?? "?", bytes, (_, sum) => sum + bytes);
    }

    public override void Dispose()
    {
        base.Dispose();
        long total = _bytes.Values.Sum();
        Console.WriteLine($"allocations sampled by type: {total / 1e6:N0} MB");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(25))
            Console.WriteLine($"{bytes / 1e6,10:N0} MB {100.0 * bytes / Math.Max(total, 1),5:N1} % {type}");
    }
}
