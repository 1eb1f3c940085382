using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace ExportJobs.Benchmarks;

/// <summary>
/// The host's collections, large-object allocations and compilations, phase by phase (<c>BENCH_GC_TRACE=1</c>): an
/// EventPipe session on the host's process takes the runtime's GC events, each allocation tick with its stack (the
/// runtime raises one about every 100 KB allocated, naming the type whose allocation crossed it), and its JIT's, into
/// <c>host-gc.nettrace</c> in the benchmark's folder; the report gives, for each phase the benchmark marked, its
/// collections by generation and kind, the heap's generations after its last collection, where its large-object
/// allocations were made, and the methods compiled by tier and namespace. What the floors' own sampling
/// (<see cref="SampledAllocations"/>) and counts cannot: the host's, with their call sites.
/// </summary>
public sealed class HostGcTrace : IAsyncDisposable
{
    private const long GcKeyword = 0x1, JitKeyword = 0x10;
    /// <summary>The frames of a call site shown: enough to get past the runtime's and the pools' own.</summary>
    private const int SiteFrames = 4, SitesShown = 6, NamespacesShown = 5;

    private readonly EventPipeSession _session;
    private readonly Task _copy;
    private readonly string _path;
    private readonly List<(string Name, DateTime From, DateTime To)> _phases = [];

    private HostGcTrace(int pid, string path)
    {
        _path = path;
        _session = new DiagnosticsClient(pid).StartEventPipeSession(
            new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, GcKeyword | JitKeyword), requestRundown: true, circularBufferMB: 256);
        _copy = CopyAsync(_session.EventStream, path);
    }

    /// <summary>A trace of the host's process when <c>BENCH_GC_TRACE</c> is set; null otherwise.</summary>
    public static HostGcTrace? StartIfAsked(int hostPid, string work) =>
        Environment.GetEnvironmentVariable("BENCH_GC_TRACE") is null ? null : new HostGcTrace(hostPid, Path.Combine(work, "host-gc.nettrace"));

    private static async Task CopyAsync(Stream events, string path)
    {
        await using var file = File.Create(path);
        await events.CopyToAsync(file);
    }

    /// <summary>Marks a phase: from now until the returned value is disposed.</summary>
    public IDisposable Phase(string name) => new Marked(this, name, DateTime.UtcNow);

    private sealed class Marked(HostGcTrace trace, string name, DateTime from) : IDisposable
    {
        public void Dispose() => trace._phases.Add((name, from, DateTime.UtcNow));
    }

    /// <summary>Ends the session and prints the report, phase by phase.</summary>
    public async Task ReportAsync()
    {
        await StopAsync();
        var phases = _phases.Select(p => new PhaseFigures(p.Name, p.From, p.To)).ToList();
        var jitStarts = new Dictionary<long, double>();
        using (var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(_path)))
        {
            foreach (var e in log.Events)
            {
                if (e is MethodJittingStartedTraceData started) jitStarts[started.MethodID] = e.TimeStampRelativeMSec;
                var at = e.TimeStamp.ToUniversalTime();
                var phase = phases.Find(p => at >= p.From && at <= p.To);
                if (phase is null) continue;
                switch (e)
                {
                    case GCStartTraceData start:
                        phase.Collections[(start.Depth, start.Type)] = phase.Collections.GetValueOrDefault((start.Depth, start.Type)) + 1;
                        break;
                    case GCHeapStatsTraceData heap:
                        phase.Heap = (heap.GenerationSize0, heap.GenerationSize1, heap.GenerationSize2, heap.GenerationSize3);
                        phase.LargestLoh = Math.Max(phase.LargestLoh, heap.GenerationSize3);
                        break;
                    case GCAllocationTickTraceData tick when tick.AllocationKind == GCAllocationKind.Large:
                        string site = $"{tick.TypeName} at {SiteOf(e.CallStack())}";
                        phase.LargeBySite[site] = phase.LargeBySite.GetValueOrDefault(site) + tick.AllocationAmount64;
                        break;
                    case MethodLoadUnloadVerboseTraceData load when load.IsJitted && load.EventName.EndsWith("LoadVerbose", StringComparison.Ordinal):
                        phase.CompiledByTier[load.OptimizationTier] = phase.CompiledByTier.GetValueOrDefault(load.OptimizationTier) + 1;
                        string ns = NamespaceOf(load.MethodNamespace);
                        phase.CompiledByNamespace[ns] = phase.CompiledByNamespace.GetValueOrDefault(ns) + 1;
                        if (jitStarts.Remove(load.MethodID, out double from)) phase.JitMs += e.TimeStampRelativeMSec - from;
                        break;
                }
            }
        }
        Console.WriteLine($"The host's collections and large-object allocations by phase ({_path}):");
        foreach (var p in phases)
        {
            var (g0, g1, g2, loh) = p.Heap;
            Console.WriteLine($"- {p.Name} ({(p.To - p.From).TotalSeconds.ToString("N1", CultureInfo.InvariantCulture)} s): collections {Collections(p)}; heap after its last: " +
                $"gen0 {Mb(g0)}, gen1 {Mb(g1)}, gen2 {Mb(g2)}, large objects {Mb(loh)} MB (at most {Mb(p.LargestLoh)}); large-object allocations sampled {Mb(p.LargeBySite.Values.Sum())} MB");
            foreach (var (site, bytes) in p.LargeBySite.OrderByDescending(s => s.Value).Take(SitesShown))
                Console.WriteLine($"    {Mb(bytes),6} MB  {site}");
            Console.WriteLine($"  compiled: {p.CompiledByTier.Values.Sum():N0} methods ({string.Join(", ", p.CompiledByTier.OrderByDescending(t => t.Value).Select(t => $"{t.Key} {t.Value:N0}"))}), " +
                $"{(p.JitMs / 1000).ToString("N1", CultureInfo.InvariantCulture)} s from their compilations' starts to their loads; most in " +
                string.Join(", ", p.CompiledByNamespace.OrderByDescending(n => n.Value).Take(NamespacesShown).Select(n => $"{n.Key} {n.Value:N0}")));
        }
    }

    private static string Collections(PhaseFigures phase) => string.Join(", ", phase.Collections.OrderBy(c => c.Key.Depth).ThenBy(c => c.Key.Type)
        .Select(c => $"gen{c.Key.Depth} {c.Value} {(c.Key.Type == GCType.BackgroundGC ? "in the background" : c.Key.Type == GCType.ForegroundGC ? "in the foreground" : "blocking")}"));

    /// <summary>The first frames of a stack past the runtime's allocation and the array pools' renting.</summary>
    private static string SiteOf(TraceCallStack? stack)
    {
        var frames = new List<string>();
        for (var frame = stack; frame is not null && frames.Count < SiteFrames; frame = frame.Caller)
        {
            string method = frame.CodeAddress.FullMethodName;
            if (string.IsNullOrEmpty(method)) method = $"{frame.CodeAddress.ModuleName}!?";
            if (frames.Count == 0 && (method.StartsWith("System.GC", StringComparison.Ordinal) || method.Contains("ArrayPool", StringComparison.Ordinal))) continue;
            frames.Add(method.Length > 120 ? method[..120] : method);
        }
        return frames.Count == 0 ? "(no stack)" : string.Join(" <- ", frames);
    }

    /// <summary>A method's type's namespace, to its first three names (generic instantiations included as the runtime names them).</summary>
    private static string NamespaceOf(string type) => string.Join('.', type.Split('[', 2)[0].Split('.').Take(3));

    private static string Mb(long bytes) => (bytes / 1e6).ToString("N1", CultureInfo.InvariantCulture);

    private sealed class PhaseFigures(string name, DateTime from, DateTime to)
    {
        public string Name { get; } = name;
        public DateTime From { get; } = from;
        public DateTime To { get; } = to;
        public Dictionary<(int Depth, GCType Type), int> Collections { get; } = [];
        public (long Gen0, long Gen1, long Gen2, long Loh) Heap { get; set; }
        public long LargestLoh { get; set; }
        public Dictionary<string, long> LargeBySite { get; } = [];
        public Dictionary<OptimizationTier, int> CompiledByTier { get; } = [];
        public Dictionary<string, int> CompiledByNamespace { get; } = [];
        public double JitMs { get; set; }
    }

    private async Task StopAsync()
    {
        if (_copy.IsCompleted) return;
        await _session.StopAsync(CancellationToken.None);
        await _copy;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _session.Dispose();
    }
}
