using System.Runtime.InteropServices;

namespace ExportJobs.Service.Identities;

/// <summary>A file of 64-bit values as bytes, and back: a build round's labels and messages (fingerprint and label pairs), a route's files' lengths (<see cref="RouteLengths"/>).</summary>
internal static class Longs
{
    public static Task WriteAsync(GraphFiles files, string name, long[] values, CancellationToken ct) =>
        files.WriteFileAsync(name, writer => writer.Write(MemoryMarshal.AsBytes(values.AsSpan())), ct);

    public static long[] Read(BinaryReader reader)
    {
        var values = new long[reader.BaseStream.Length / sizeof(long)];
        reader.BaseStream.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }
}
