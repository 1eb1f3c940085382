using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ExportJobs.Service.Storage;

/// <summary>
/// Downloads checked against the MD5 the storage service sends for each range it serves (of at most
/// <see cref="MaxHashedRange"/>), here rather than by the client: the client's own check first copies a download into a
/// buffer of its own, a large-object allocation for anything over 85 KB (134 MB of them in 12 s of an export at
/// N = 1,000,000 while the profile store's windows were checked that way; 35-49 MB in 8-10 s of a <c>pdg</c> export's
/// route and stage while the graph build's files were).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "The MD5 the storage service sends for a range: an integrity check, not a security measure.")]
internal static class CheckedRanges
{
    /// <summary>The largest range the storage service sends an MD5 for.</summary>
    public const int MaxHashedRange = 4 * 1024 * 1024;

    /// <summary>
    /// A range, with its MD5 asked of the service when the range is short enough to have one, and not checked by the
    /// client; of the blob's version <paramref name="ifMatch"/> when given (another version is refused with 412).
    /// </summary>
    public static BlobDownloadOptions Ranged(long start, int count, ETag? ifMatch = null) => new()
    {
        Range = new HttpRange(start, count),
        Conditions = ifMatch is { } version ? new BlobRequestConditions { IfMatch = version } : null,
        TransferValidation = new DownloadTransferValidationOptions
        {
            ChecksumAlgorithm = count <= MaxHashedRange ? StorageChecksumAlgorithm.MD5 : StorageChecksumAlgorithm.None,
            AutoValidateChecksum = false,
        },
    };

    /// <summary>Throws unless the bytes from <paramref name="start"/> of <paramref name="count"/>, whose MD5 is <paramref name="md5"/>, are what the service sent the MD5 <paramref name="sent"/> for.</summary>
    public static void Check(BlobClient blob, long start, int count, ReadOnlySpan<byte> md5, byte[]? sent)
    {
        if (sent is not { Length: > 0 } || !md5.SequenceEqual(sent))
            throw new InvalidDataException($"Bytes {start}-{start + count - 1} of blob '{blob.Name}' do not match the MD5 the storage service sent for them.");
    }

    /// <summary>As <see cref="Check(BlobClient, long, int, ReadOnlySpan{byte}, byte[])"/>, of the bytes themselves.</summary>
    public static void Check(BlobClient blob, long start, ReadOnlySpan<byte> bytes, byte[]? sent) => Check(blob, start, bytes.Length, MD5.HashData(bytes), sent);

    /// <summary>
    /// A whole blob copied into the stream <paramref name="open"/> gives once the blob's length is known (from the first
    /// range's answer), a range of at most <see cref="MaxHashedRange"/> at a time, each hashed as it is copied and checked;
    /// returns the length. With <paramref name="ifMatch"/>, only that version of the blob is copied (412 otherwise).
    /// </summary>
    public static async Task<long> CopyAsync(BlobClient blob, Func<long, Stream> open, CancellationToken ct, ETag? ifMatch = null)
    {
        Stream? into = null;
        long length = 0;
        var chunk = ArrayPool<byte>.Shared.Rent(CopyBytes);
        try
        {
            for (long start = 0; into is null || start < length;)
            {
                BlobDownloadStreamingResult result;
                try
                {
                    result = (await blob.DownloadStreamingAsync(Ranged(start, MaxHashedRange, ifMatch), ct)).Value;
                }
                catch (RequestFailedException e) when (e.Status == 416 && start == 0)
                {
                    // An empty blob has no range to serve.
                    open(0);
                    return 0;
                }
                using (result)
                {
                    if (into is null) into = open(length = LengthOf(result.Details));
                    int count = (int)Math.Min(MaxHashedRange, length - start);
                    using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
                    for (int left = count; left > 0;)
                    {
                        int read = await result.Content.ReadAsync(chunk.AsMemory(0, Math.Min(chunk.Length, left)), ct);
                        if (read == 0) throw new EndOfStreamException($"Blob '{blob.Name}' ended {left} bytes before the {count} of its range from {start}.");
                        md5.AppendData(chunk, 0, read);
                        await into.WriteAsync(chunk.AsMemory(0, read), ct);
                        left -= read;
                    }
                    Check(blob, start, count, md5.GetHashAndReset(), result.Details.ContentHash);
                    start += count;
                }
            }
            return length;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }

    private const int CopyBytes = 64 * 1024;

    /// <summary>The whole blob's length, from a range's answer (<c>bytes 0-99/1234</c>).</summary>
    private static long LengthOf(BlobDownloadDetails details) =>
        details.ContentRange is { } range && range.LastIndexOf('/') is var slash and >= 0
            ? long.Parse(range.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture)
            : details.ContentLength;
}
