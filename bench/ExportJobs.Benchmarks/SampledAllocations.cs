using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace ExportJobs.Benchmarks;

/// <summary>
/// What this process allocates, by type, as the runtime samples it (an allocation-tick event about every 100 KB, naming
/// the type whose allocation crossed it), from creation to disposal; the largest types are printed on disposal. No
/// tool to attach, so a floor's allocations can be read on any machine the benchmark runs on. It also counts the
/// collections by generation, why the runtime started them (its <c>GCStart</c> event's reason: small or large
/// allocations, mostly) and whether in the background.
/// </summary>
public sealed class SampledAllocations : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new();
    private readonly ConcurrentDictionary<(int Generation, string Reason, bool Background), int> _collections = new();
    private static readonly string[] Reasons = ["small allocations", "induced", "low memory", "empty", "large allocations", "no space (small)", "no space (large)"];

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCStart", StringComparison.Ordinal) == true && e.PayloadNames is { } started)
        {
            int generation = Convert.ToInt32(e.Payload![started.IndexOf("Depth")], CultureInfo.InvariantCulture);
            int reason = Convert.ToInt32(e.Payload[started.IndexOf("Reason")], CultureInfo.InvariantCulture);
            bool background = Convert.ToInt32(e.Payload[started.IndexOf("Type")], CultureInfo.InvariantCulture) == 1;
            _collections.AddOrUpdate((generation, reason < Reasons.Length ? Reasons[reason] : $"reason {reason}", background), 1, (_, n) => n + 1);
            return;
        }
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
        Console.WriteLine("collections by generation and reason:");
        foreach (var ((generation, reason, background), count) in _collections.OrderBy(c => c.Key.Generation).ThenByDescending(c => c.Value))
            Console.WriteLine($"{count,10:N0}  generation {generation}, {reason}{(background ? ", in the background" : "")}");
        Console.WriteLine($"allocations sampled by type: {total / 1e6:N0} MB");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(25))
            Console.WriteLine($"{bytes / 1e6,10:N0} MB {100.0 * bytes / Math.Max(total, 1),5:N1} % {type}");
    }
}
