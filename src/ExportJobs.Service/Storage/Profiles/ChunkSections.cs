using System.Globalization;
using Azure.Storage.Blobs.Models;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The table of a chunk file's sections, in its metadata: <c>{shard}:{bytes}</c> for each shard, comma-separated, in
/// the order the sections follow each other from the blob's start (each a whole fragment file of its shard).
/// </summary>
internal static class ChunkSections
{
    public const string Key = "sections";

    public static string Text(IEnumerable<(int Shard, long Length)> sections) =>
        string.Join(',', sections.Select(s => $"{s.Shard.ToString(CultureInfo.InvariantCulture)}:{s.Length.ToString(CultureInfo.InvariantCulture)}"));

    /// <summary>The sections of a chunk file as listed with its metadata, each with its shard (the file's ETag their version).</summary>
    public static IEnumerable<(int Shard, FileSection Section)> Of(BlobItem chunk)
    {
        if (!chunk.Metadata.TryGetValue(Key, out string? text))
            throw new InvalidDataException($"Chunk file '{chunk.Name}' has no table of sections in its metadata.");
        long offset = 0, size = chunk.Properties.ContentLength ?? 0;
        foreach (string entry in text.Split(','))
        {
            int colon = entry.IndexOf(':');
            if (colon <= 0 || !int.TryParse(entry.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out int shard) ||
                !long.TryParse(entry.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out long length) || offset + length > size)
                throw new InvalidDataException($"Chunk file '{chunk.Name}' has a table of sections that does not describe it: '{text}'.");
            yield return (shard, new FileSection(chunk.Name, offset, length, chunk.Properties.ETag, size));
            offset += length;
        }
    }
}
