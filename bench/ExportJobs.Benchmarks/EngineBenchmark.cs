using System.Diagnostics;
using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage.Profiles;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Benchmarks;

/// <summary>
/// The Parquet engines served here, side by side on one fragment file of the benchmark's records written by the
/// service's own writer (a local file, no storage): the time and allocation of decoding every column, then the identity
/// columns and the three members a one-segment export reads — Parquet.Net (the service's, reading as the service does),
/// ParquetSharp's low-level readers (values handed out in place), and DuckDB's <c>read_parquet</c> (vectorised).
/// Only decoding: what a read does per fragment after it (a JSON document, the merge) is the same for all three.
/// </summary>
public static class EngineBenchmark
{
    private const int Passes = 5;

    public static async Task<int> RunAsync(int profiles)
    {
        string path = Path.Combine(Path.GetTempPath(), $"exportjobs-engines-{Guid.NewGuid():N}.parquet");
        try
        {
            int rows = await WriteAsync(path, profiles);
            await using (var reader = await ParquetReader.CreateAsync(File.OpenRead(path)))
            {
                var fields = reader.Schema.GetDataFields();
                var members = System.Text.Json.JsonSerializer.Deserialize<string[]>(reader.CustomMetadata[FragmentColumns.MembersKey])!;
                var all = Enumerable.Range(0, fields.Length).ToArray();
                var segment = Enumerable.Range(0, FragmentColumns.FirstMember).Concat(new[] { "identityMap", "personalEmail", "segmentMembership" }.Select(m => FragmentColumns.FirstMember + Array.IndexOf(members, m))).ToArray();
                Console.WriteLine($"Engines, one fragment file of {rows:N0} rows ({profiles:N0} profiles' records), {new FileInfo(path).Length / 1e6:N1} MB; best of {Passes} passes");
                Console.WriteLine("| engine | columns | ns per row | CPU ms | allocated MB |");
                Console.WriteLine("| --- | --- | --- | --- | --- |");
                foreach (var (name, columns) in new[] { ("all", all), ("identity, provenance, identityMap, personalEmail, segmentMembership", segment) })
                {
                    Report("Parquet.Net 6.1 (raw reads)", name, rows, () => ParquetNetAsync(path, fields, columns).GetAwaiter().GetResult());
                    Report("ParquetSharp 25.0 (low-level readers)", name, rows, () => ParquetSharpRead(path, columns));
                    Report("DuckDB 1.5 (read_parquet)", name, rows, () => DuckDbRead(path, columns.Select(c => fields[c].Name)));
                }
            }
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>The benchmark's records of <paramref name="profiles"/> profiles, as one shard's fragment file, sorted by identity.</summary>
    private static async Task<int> WriteAsync(string path, int profiles)
    {
        var rows = new List<FragmentRow>();
        for (int i = 0; i < profiles; i++)
        {
            var identity = i % 4 == 3 ? new Identity("ecid", (90000000000L + i).ToString(CultureInfo.InvariantCulture)) : new Identity("email", $"user{i}@example.com");
            foreach (var (dataset, record) in new[] { ("crm", BenchProfiles.Crm(i)), ("loyalty", BenchProfiles.Loyalty(i)), ("preferences", BenchProfiles.Preferences(i)) })
                if (record is not null)
                    rows.Add(new FragmentRow(identity.Namespace, identity.Id, 1_700_000_000_000 + i, dataset, "batch" + (i / 25_000), StoredRecord.Split(Encoding.UTF8.GetBytes(record))));
        }
        rows.Sort(FragmentRow.CompareIdentities);
        await using var file = File.Create(path);
        await using var writer = FragmentFileWriter.Create(file, FragmentColumns.NamesOf(rows.SelectMany(r => r.Record.Members.Select(m => m.Name))));
        foreach (var row in rows) await writer.AddAsync(row, default);
        return rows.Count;
    }

    private static void Report(string engine, string columns, int rows, Func<long> read)
    {
        long checksum = read();
        var (best, cpu, allocated) = (double.MaxValue, 0.0, 0L);
        for (int pass = 0; pass < Passes; pass++)
        {
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            if (read() != checksum) throw new InvalidOperationException($"{engine} read different bytes from one pass to the next.");
            if (watch.Elapsed.TotalMilliseconds < best)
                (best, cpu, allocated) = (watch.Elapsed.TotalMilliseconds, (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalMilliseconds, GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore);
        }
        Console.WriteLine($"| {engine} | {columns} | {best * 1e6 / rows:N0} | {cpu:N0} | {allocated / 1e6:N0} |");
    }

    /// <summary>Each column of each row group read raw, as the service's reader reads them; returns the bytes of the values.</summary>
    private static async Task<long> ParquetNetAsync(string path, DataField[] fields, int[] columns)
    {
        long bytes = 0;
        await using var reader = await ParquetReader.CreateAsync(File.OpenRead(path));
        var (binary, text, longs, levels) = (new ReadOnlyMemory<byte>[FragmentColumns.RowGroupSize], new ReadOnlyMemory<char>[FragmentColumns.RowGroupSize], new long[FragmentColumns.RowGroupSize], new int[FragmentColumns.RowGroupSize]);
        var indexes = new int[FragmentColumns.RowGroupSize];
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int rows = (int)group.RowCount;
            foreach (int c in columns)
            {
                var field = fields[c];
                if (field.Name is FragmentColumns.IngestTime or FragmentColumns.Sequence)
                {
                    await group.ReadAsync(field, longs.AsMemory(0, rows));
                    continue;
                }
                if (FragmentColumns.Indexed.Contains(field.Name))
                {
                    await group.ReadAsync(field, indexes.AsMemory(0, rows));
                    continue;
                }
                bool isText = field.Name is FragmentColumns.Id && FragmentColumns.HoldsTextIds(field);
                if (isText) await group.ReadRawAsync(field, text.AsMemory(0, rows), levels.AsMemory(0, rows), null);
                else await group.ReadRawAsync(field, binary.AsMemory(0, rows), levels.AsMemory(0, rows), null);
                int values = levels.AsSpan(0, rows).Count(1);
                for (int v = 0; v < values; v++) bytes += isText ? Encoding.UTF8.GetByteCount(text[v].Span) : binary[v].Length;
            }
        }
        return bytes;
    }

    private static long ParquetSharpRead(string path, int[] columns)
    {
        long bytes = 0;
        using var file = new ParquetSharp.ParquetFileReader(path);
        var (definitions, repetitions) = (new short[FragmentColumns.RowGroupSize], new short[FragmentColumns.RowGroupSize]);
        var (binary, longs, ints) = (new ParquetSharp.ByteArray[FragmentColumns.RowGroupSize], new long[FragmentColumns.RowGroupSize], new int[FragmentColumns.RowGroupSize]);
        for (int g = 0; g < file.FileMetaData.NumRowGroups; g++)
        {
            using var group = file.RowGroup(g);
            foreach (int c in columns)
            {
                using var column = group.Column(c);
                if (column is ParquetSharp.ColumnReader<ParquetSharp.ByteArray> values)
                    while (values.HasNext)
                    {
                        values.ReadBatch(binary.Length, definitions, repetitions, binary, out long read);
                        for (int v = 0; v < read; v++) bytes += binary[v].Length;
                    }
                else if (column is ParquetSharp.ColumnReader<long> times)
                    while (times.HasNext) times.ReadBatch(longs.Length, definitions, repetitions, longs, out _);
                else if (column is ParquetSharp.ColumnReader<int> indexes)
                    while (indexes.HasNext) indexes.ReadBatch(ints.Length, definitions, repetitions, ints, out _);
            }
        }
        return bytes;
    }

    private static long DuckDbRead(string path, IEnumerable<string> columns)
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        var sums = columns.Where(c => c is not (FragmentColumns.IngestTime or FragmentColumns.Sequence) && !FragmentColumns.Indexed.Contains(c)).Select(c => $"coalesce(sum(octet_length(\"{c}\"::BLOB)), 0)");
        command.CommandText = $"SELECT {string.Join(" + ", sums)} FROM read_parquet('{path.Replace("'", "''", StringComparison.Ordinal)}')";
        return long.Parse(command.ExecuteScalar()!.ToString()!, CultureInfo.InvariantCulture);
    }
}
