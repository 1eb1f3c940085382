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
/// as ingestion reads them (one pass of a reader over the line's tokens for every check: duplicate members, identity,
/// memberships, the dataset's schema), against that pass's floor (the reader over the tokens, nothing checked) and a
/// parse into a document with the duplicate-member check (how lines were read before), and the split of the record
/// into its members; the best of 8 interleaved rounds of 10 passes over the lines.
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
        var strict = new JsonDocumentOptions { MaxDepth = ProfileRecordParser.MaxDepth, AllowDuplicateProperties = false };
        foreach (var (name, make, schemaText) in kinds)
        {
            var lines = Enumerable.Range(0, 30_000).Select(make).OfType<string>().Select(s => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(s)).ToArray();
            var schema = SystemFields.ForProfiles(SchemaNode.Parse(JsonNode.Parse(schemaText), "schema", new ProblemList())!);
            double read = double.MaxValue, tokens = double.MaxValue, parse = double.MaxValue, split = double.MaxValue;
            for (int round = 0; round < 8; round++)
            {
                read = Math.Min(read, NanosecondsPerLine(lines, line => ProfileRecordParser.TryRead(line, false, schema, out _, out _)));
                parse = Math.Min(parse, NanosecondsPerLine(lines, line => JsonDocument.Parse(line, strict).Dispose()));
                tokens = Math.Min(tokens, NanosecondsPerLine(lines, ReadTokens));
                split = Math.Min(split, NanosecondsPerLine(lines, line => StoredRecord.Split(line)));
            }
            Console.WriteLine($"{name} ({lines.Length:N0} lines of about {lines[0].Length} bytes), ns a line: read and checked {read:N0} (its tokens alone {tokens:N0}; " +
                              $"parsed into a document with the duplicate-member check {parse:N0}), split into members {split:N0}");
        }
        return 0;
    }

    private static void ReadTokens(ReadOnlyMemory<byte> line)
    {
        var reader = new Utf8JsonReader(line.Span);
        while (reader.Read()) { }
    }

    private static double NanosecondsPerLine(ReadOnlyMemory<byte>[] lines, Action<ReadOnlyMemory<byte>> work)
    {
        var clock = Stopwatch.StartNew();
        for (int pass = 0; pass < 10; pass++)
            foreach (var line in lines) work(line);
        return clock.Elapsed.TotalNanoseconds / (10.0 * lines.Length);
    }
}
