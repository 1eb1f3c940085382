using System.Globalization;
using ExportJobs.Benchmarks;

// dotnet run -c Release --project bench/ExportJobs.Benchmarks -- pql [profiles]
// bash scripts/bench.sh export [profiles] [--events]      (starts Azurite and a LocalHost, then runs this program)
// bash scripts/bench.sh ingest                            (memory of hostile and very large ingestion bodies)
string mode = args.Length > 0 ? args[0] : "pql";
int count = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
switch (mode)
{
    case "pql":
        PqlBenchmark.Run(count);
        return 0;
    case "export":
        return await new ExportBenchmark(new BenchEnvironment()).RunAsync(count, args.Contains("--events"));
    case "ingest":
        return await new IngestBenchmark(new BenchEnvironment()).RunAsync();
    case "scaleout":
        return await new ScaleOutCheck(new BenchEnvironment()).RunAsync(count);
    default:
        Console.Error.WriteLine($"unknown benchmark '{mode}'; the benchmarks are: pql [profiles], export [profiles] [--events], ingest, scaleout [profiles]");
        return 2;
}
