using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using ExportJobs.Service.Http;

namespace ExportJobs.Service.Tests;

/// <summary>The ingestion body as a stream: lines through a bounded buffer, gzip checked whole.</summary>
public sealed class IngestBodyTests
{
    private static async Task<List<string>> LinesAsync(Stream body, int maxLineBytes)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var lines = new NdjsonLines(body, maxLineBytes, hash);
        var read = new List<string>();
        while (await lines.ReadAsync(CancellationToken.None))
            read.Add(lines.TooLong ? $"{lines.Number}:too long" : $"{lines.Number}:{Encoding.UTF8.GetString(lines.Line.Span)}");
        return read;
    }

    [Fact]
    public async Task Lines_split_on_newlines_drop_a_bom_and_cr_and_skip_what_is_too_long()
    {
        string text = "\uFEFFa\r\nbb\n" + new string('x', 300_000) + "\nccc\n\nlast";
        var lines = await LinesAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), maxLineBytes: 1_000);
        Assert.Equal(["1:a", "2:bb", "3:too long", "4:ccc", "5:", "6:last"], lines);
    }

    [Fact]
    public async Task A_line_too_long_at_the_end_of_the_body_is_reported()
    {
        var lines = await LinesAsync(new MemoryStream(Encoding.UTF8.GetBytes("a\n" + new string('x', 5_000))), maxLineBytes: 1_000);
        Assert.Equal(["1:a", "2:too long"], lines);
    }

    private static byte[] Gzip(string text)
    {
        var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(Encoding.UTF8.GetBytes(text));
        return compressed.ToArray();
    }

    [Fact]
    public async Task A_whole_gzip_body_reads_back_and_one_cut_short_or_followed_by_bytes_throws()
    {
        string text = string.Concat(Enumerable.Range(0, 5_000).Select(i => $"line {i}\n"));
        byte[] whole = Gzip(text);
        Assert.Equal(5_000, (await LinesAsync(new GzipBodyStream(new MemoryStream(whole)), 100)).Count);
        foreach (byte[] broken in new[] { whole[..(whole.Length / 2)], whole[..^4], whole[..^1], [.. whole, 0] })
            await Assert.ThrowsAsync<InvalidDataException>(() => LinesAsync(new GzipBodyStream(new MemoryStream(broken)), 100));
    }
}
