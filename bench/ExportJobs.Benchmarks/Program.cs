using System.Globalization;
using ExportJobs.Benchmarks;

// dotnet run -c Release --project bench/ExportJobs.Benchmarks -- pql [profiles]
// bash scripts/bench.sh export [profiles] [--events]      (starts Azurite and a LocalHost, then runs this program)
// bash scripts/bench.sh ingest                            (memory of hostile and very large ingestion bodies)
// bash scripts/bench.sh schedule [minutes]                (an every-minute schedule on the LocalHost timer, checked)
// bash scripts/bench.sh small                             (latency of small exports, alone and 50 at once)
// bash scripts/bench.sh stitched [people]                 (identity graph build, pdg export against none)
string mode = args.Length > 0 ? args[0] : "pql";
int count = args.Length > 1 && int.TryParse(args[1], CultureInfo.InvariantCulture, out int n) ? n : 100_000;
switch (mode)
{
    case "pql":
        PqlBenchmark.Run(count);
        return 0;
    case "export":
        return await new ExportBenchmark(new BenchEnvironment()).RunAsync(count, args.Contains("--events"));
    case "linecost":
        return LineCost.Run();
    case "engines":
        return await EngineBenchmark.RunAsync(args.Length > 1 ? count : 200_000);
    case "floors":
        return await new ExportBenchmark(new BenchEnvironment()).FloorsAsync(args.Length > 1 ? count : 2, oneSegmentOnly: args.Contains("segment"));
    case "exports":
        return await new ExportBenchmark(new BenchEnvironment()).ExportsAsync(args.Length > 1 ? count : 3, wholeStore: args.Contains("whole"));
    case "ingest":
        return await new IngestBenchmark(new BenchEnvironment()).RunAsync(args.Length > 1 ? args[1] : "plain");
    case "schedule":
        return await new ScheduleCheck(new BenchEnvironment()).RunAsync(args.Length > 1 ? count : 5);
    case "small":
        return await new SmallJobsBenchmark(new BenchEnvironment()).RunAsync();
    case "stitched":
        return await new StitchedBenchmark(new BenchEnvironment()).RunAsync(count);
    case "scaleout":
        return await new ScaleOutCheck(new BenchEnvironment()).RunAsync(count);
    default:
        Console.Error.WriteLine($"unknown benchmark '{mode}'; the benchmarks are: pql [profiles], export [profiles] [--events], floors [repeats] [segment], exports [repeats] [whole], engines [profiles], linecost, ingest [plain|line-bomb|lines-bomb], schedule [minutes], scaleout [profiles], small, stitched [people]");
        return 2;
}
