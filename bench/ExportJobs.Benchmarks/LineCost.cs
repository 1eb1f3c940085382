using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Benchmarks;

/// <summary>
/// What ingestion's work on one line costs, in one process (no storage): the benchmark's records of each dataset read
/// as ingestion reads them (parsed with the duplicate-member check, then the identity, memberships and the dataset's
/// schema checked), the parse alone with and without that check, and the split of the record into its members; the
/// best of 8 interleaved rounds of 10 passes over the lines.
/// </summary>
public static class LineCost
{
    public static int Run()
    {
        var kinds = new (string Name, Func<int, string?> Make, string Schema)[]
        {
            ("crm", BenchProfiles.Crm, BenchProfiles.CrmSchema), ("loyalty", BenchProfiles.Loyalty, BenchProfiles.LoyaltySchema),
            ("preferences", BenchProfiles.Preferences, BenchProfiles.PreferencesSchema),
        };
        var strict = ProfileRecordParser.DocumentOptions;
        var loose = strict with { AllowDuplicateProperties = true };
        foreach (var (name, make, schemaText) in kinds)
        {
            var lines = Enumerable.Range(0, 30_000).Select(make).OfType<string>().Select(s => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(s)).ToArray();
            var schema = SystemFields.ForProfiles(SchemaNode.Parse(JsonNode.Parse(schemaText), "schema", new ProblemList())!);
            double read = double.MaxValue, parse = double.MaxValue, parseLoose = double.MaxValue, split = double.MaxValue;
            for (int round = 0; round < 8; round++)
            {
                read = Math.Min(read, NanosecondsPerLine(lines, line => ProfileRecordParser.TryRead(line, false, schema, out _, out _)));
                parse = Math.Min(parse, NanosecondsPerLine(lines, line => JsonDocument.Parse(line, strict).Dispose()));
                parseLoose = Math.Min(parseLoose, NanosecondsPerLine(lines, line => JsonDocument.Parse(line, loose).Dispose()));
                split = Math.Min(split, NanosecondsPerLine(lines, line => StoredRecord.Split(line)));
            }
            Console.WriteLine($"{name} ({lines.Length:N0} lines of about {lines[0].Length} bytes), ns a line: read {read:N0} (of which the parse {parse:N0}, " +
                              $"{parseLoose:N0} without the duplicate-member check), split into members {split:N0}");
        }
        return 0;
    }

    private static double NanosecondsPerLine(ReadOnlyMemory<byte>[] lines, Action<ReadOnlyMemory<byte>> work)
    {
        var clock = Stopwatch.StartNew();
        for (int pass = 0; pass < 10; pass++)
            foreach (var line in lines) work(line);
        return clock.Elapsed.TotalNanoseconds / (10.0 * lines.Length);
    }
}
