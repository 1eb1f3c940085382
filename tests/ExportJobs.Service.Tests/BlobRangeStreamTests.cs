using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using ExportJobs.Service.Storage;
using ExportJobs.Service.Storage.Profiles;
using ExportJobs.TestSupport;

namespace ExportJobs.Service.Tests;

/// <summary>Blob windows and whole blobs copied on Azurite: the bytes read are the blob's, and a range that does not match its MD5 is refused.</summary>
public class BlobRangeStreamTests
{
    private const int BlobBytes = 3 * 1024 * 1024 + 12_345;

    [Fact]
    public async Task Reads_give_the_blob_bytes_from_the_tail_a_loaded_range_and_windows_fetched_on_demand()
    {
        var (blob, bytes) = await UploadAsync(new BlobClientOptions());
        await using var stream = await BlobRangeStream.OpenAsync(blob, 0, bytes.Length, default);

        await AssertReadsAsync(stream, bytes, bytes.Length - 8, 8);
        await stream.LoadAsync(1_000_000, 50_000, default);
        await AssertReadsAsync(stream, bytes, 1_000_000, 50_000);
        await AssertReadsAsync(stream, bytes, 17, 2 * 1024 * 1024);
        stream.Position = 2_500_000;
        var sync = new byte[600_000];
        stream.ReadExactly(sync);
        Assert.True(sync.AsSpan().SequenceEqual(bytes.AsSpan(2_500_000, sync.Length)));
    }

    [Fact]
    public async Task A_section_of_a_blob_reads_as_a_stream_of_its_bytes_alone()
    {
        var (blob, bytes) = await UploadAsync(new BlobClientOptions());
        const int Offset = 700_001, Length = 1_500_000;
        var section = bytes.AsSpan(Offset, Length).ToArray();
        await using var stream = await BlobRangeStream.OpenAsync(blob, Offset, Length, default);

        Assert.Equal(Length, stream.Length);
        await AssertReadsAsync(stream, section, Length - 8, 8);
        await stream.LoadAsync(1_000_000, 50_000, default);
        await AssertReadsAsync(stream, section, 1_000_000, 50_000);
        await AssertReadsAsync(stream, section, 0, Length);
        stream.Position = Length;
        Assert.Equal(0, await stream.ReadAsync(new byte[16]));
    }

    [Fact]
    public async Task Opening_a_large_blob_as_a_Parquet_reader_does_takes_two_requests_the_tail_and_the_first_window()
    {
        var (stream, bytes, requests) = await OpenCountingRequestsAsync();
        await using var _ = stream;
        // As Parquet.Net opens a file: the magic at both ends, the footer's length, then the footer before it.
        await AssertReadsAsync(stream, bytes, 0, 4);
        await AssertReadsAsync(stream, bytes, bytes.Length - 4, 4);
        await AssertReadsAsync(stream, bytes, bytes.Length - 8, 4);
        await AssertReadsAsync(stream, bytes, bytes.Length - 8 - 20_000, 20_000);
        Assert.Equal(2, requests.Count);
        // The first row group, after the magic, comes from the window already fetched from byte 0.
        await stream.LoadAsync(4, 100_000, default);
        await AssertReadsAsync(stream, bytes, 4, 100_000);
        Assert.Equal(2, requests.Count);
        // The tail stays while the file is open: reading it again fetches nothing.
        await AssertReadsAsync(stream, bytes, bytes.Length - 8, 8);
        Assert.Equal(2, requests.Count);
    }

    [Fact]
    public async Task Row_groups_loaded_one_after_the_other_fetch_each_byte_once_the_last_ones_from_the_tail()
    {
        var (stream, bytes, requests) = await OpenCountingRequestsAsync();
        await using var _ = stream;
        const int Group = 17_000;
        for (int start = 4; start < bytes.Length; start += Group)
        {
            int count = Math.Min(Group, bytes.Length - start);
            await stream.LoadAsync(start, count, default);
            await AssertReadsAsync(stream, bytes, start, count);
        }

        // The tail on opening, then windows from the first group up to where the tail begins, none into it.
        const int Window = 256 * 1024;
        int beforeTail = bytes.Length - Window - 4;
        Assert.Equal(1 + (beforeTail + Window - 1) / Window, requests.Count);
    }

    [Fact]
    public async Task A_window_whose_bytes_differ_from_the_MD5_the_service_sent_is_refused()
    {
        var options = new BlobClientOptions();
        options.AddPolicy(new FlipFirstByteOfRanges(), HttpPipelinePosition.PerCall);
        var (blob, bytes) = await UploadAsync(options);

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => BlobRangeStream.OpenAsync(blob, 0, bytes.Length, default));
        Assert.Contains(blob.Name, refused.Message);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(BlobBytes, 1)]
    [InlineData(2 * CheckedRanges.MaxHashedRange + 5, 3)]
    public async Task A_whole_blob_is_copied_a_checked_range_at_a_time(int length, int requestsExpected)
    {
        var requests = new CountRequests();
        var options = new BlobClientOptions();
        options.AddPolicy(requests, HttpPipelinePosition.PerCall);
        var (blob, bytes) = await UploadAsync(options, length);
        requests.Count = 0;

        using var copy = new MemoryStream();
        long copied = await CheckedRanges.CopyAsync(blob, blobLength => blobLength == length ? copy : throw new InvalidOperationException($"told {blobLength}"), default);

        Assert.Equal(length, copied);
        Assert.True(copy.ToArray().AsSpan().SequenceEqual(bytes));
        Assert.Equal(requestsExpected, requests.Count);
    }

    [Fact]
    public async Task A_copied_range_whose_bytes_differ_from_the_MD5_the_service_sent_is_refused()
    {
        var options = new BlobClientOptions();
        options.AddPolicy(new FlipFirstByteOfRanges(), HttpPipelinePosition.PerCall);
        var (blob, _) = await UploadAsync(options);

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => CheckedRanges.CopyAsync(blob, _ => new MemoryStream(), default));
        Assert.Contains(blob.Name, refused.Message);
    }

    /// <summary>A large blob opened as a stream, and the requests its client sends from the opening on.</summary>
    private static async Task<(BlobRangeStream Stream, byte[] Bytes, CountRequests Requests)> OpenCountingRequestsAsync()
    {
        var requests = new CountRequests();
        var options = new BlobClientOptions();
        options.AddPolicy(requests, HttpPipelinePosition.PerCall);
        var (blob, bytes) = await UploadAsync(options);
        requests.Count = 0;
        return (await BlobRangeStream.OpenAsync(blob, 0, bytes.Length, default), bytes, requests);
    }

    private static async Task<(BlobClient Blob, byte[] Bytes)> UploadAsync(BlobClientOptions options, int length = BlobBytes)
    {
        string prefix = TestStorage.NewPrefix();
        var container = new BlobServiceClient(TestStorage.ConnectionString, options).GetBlobContainerClient(StorageNames.Container(prefix, StorageNames.ProfilesContainer));
        await container.CreateIfNotExistsAsync();
        var bytes = new byte[length];
        new Random(7).NextBytes(bytes);
        var blob = container.GetBlobClient("org/sandbox/shard-0000/file.parquet");
        await blob.UploadAsync(new BinaryData(bytes));
        return (blob, bytes);
    }

    private static async Task AssertReadsAsync(Stream stream, byte[] expected, long position, int count)
    {
        stream.Position = position;
        var read = new byte[count];
        await stream.ReadExactlyAsync(read);
        Assert.True(read.AsSpan().SequenceEqual(expected.AsSpan((int)position, count)), $"bytes {position}..{position + count} differ");
    }

    /// <summary>A transport fault: the first byte of every ranged download arrives changed.</summary>
    private sealed class FlipFirstByteOfRanges : HttpPipelinePolicy
    {
        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
            throw new NotSupportedException("The windows are read asynchronously in this test.");

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            message.BufferResponse = true;
            await ProcessNextAsync(message, pipeline);
            if (!message.Request.Headers.Contains("x-ms-range") || message.Response.ContentStream is not { } content) return;
            var body = new MemoryStream();
            await content.CopyToAsync(body);
            body.GetBuffer()[0] ^= 0xFF;
            body.Position = 0;
            message.Response.ContentStream = body;
        }
    }
}
