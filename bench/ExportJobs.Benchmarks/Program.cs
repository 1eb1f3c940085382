using ExportJobs.Benchmarks;

// dotnet run -c Release --project bench/ExportJobs.Benchmarks -- pql [profiles]
string mode = args.Length > 0 ? args[0] : "pql";
switch (mode)
{
    case "pql":
        PqlBenchmark.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 100_000);
        return 0;
    default:
        Console.Error.WriteLine($"unknown benchmark '{mode}'; the benchmarks are: pql [profiles]");
        return 2;
}
