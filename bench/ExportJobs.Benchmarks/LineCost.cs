using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Schemas;
using ExportJobs.Service.Storage.Profiles;

namespace ExportJobs.Benchmarks;

/// <summary>
/// What ingestion's work on one line costs, in one process (no storage): the benchmark's records of each dataset read
/// (parsed and checked against the dataset's schema) and split into their members, from the text read again (as
/// before) and from where the parse found the members; the best of 8 interleaved rounds of 10 passes over 30,000 lines.
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
        foreach (var (name, make, schemaText) in kinds)
        {
            var lines = Enumerable.Range(0, 30_000).Select(make).OfType<string>().Select(s => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(s)).ToArray();
            var schema = SystemFields.ForProfiles(SchemaNode.Parse(JsonNode.Parse(schemaText), "schema", new ProblemList())!);
            var found = new List<RecordMember>();
            double again = double.MaxValue, fromParse = double.MaxValue;
            for (int round = 0; round < 8; round++)
            {
                again = Math.Min(again, NanosecondsPerLine(lines, line =>
                {
                    ProfileRecordParser.TryRead(line, false, schema, out _, out _);
                    StoredRecord.Split(line);
                }));
                fromParse = Math.Min(fromParse, NanosecondsPerLine(lines, line =>
                {
                    ProfileRecordParser.TryRead(line, false, schema, out _, out _, found);
                    StoredRecord.Split(line, CollectionsMarshal.AsSpan(found));
                }));
            }
            Console.WriteLine($"{name} ({lines.Length:N0} lines of about {lines[0].Length} bytes): read and split again {again:N0} ns a line, split where the parse found the members {fromParse:N0} ns");
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
