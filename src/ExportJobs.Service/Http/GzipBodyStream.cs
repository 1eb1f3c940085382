using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace ExportJobs.Service.Http;

/// <summary>
/// Inflates a gzip body and checks it is whole: .NET's <see cref="GZipStream"/> ends quietly where the data ends, so a
/// body cut short would read as the lines before the cut. At the end, the member's trailer (CRC-32 and length of what
/// it inflates to) must match what was read, and nothing may follow it; otherwise <see cref="InvalidDataException"/>.
/// One gzip member per body (what <c>gzip</c> and HTTP clients write).
/// </summary>
public sealed class GzipBodyStream : ForwardReadStream
{
    private readonly TrailerTap _source;
    private readonly Crc32 _crc = new();
    private bool _checked;

    public GzipBodyStream(Stream compressed) : this(new TrailerTap(compressed)) { }

    private GzipBodyStream(TrailerTap source) : base(new GZipStream(source, CompressionMode.Decompress)) => _source = source;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken);
        if (read > 0)
        {
            _crc.Append(buffer.Span[..read]);
            ReadSoFar += read;
        }
        else if (buffer.Length > 0) await CheckWholeAsync(cancellationToken);
        return read;
    }

    private async Task CheckWholeAsync(CancellationToken ct)
    {
        if (_checked) return;
        _checked = true;
        var rest = new byte[1];
        if (await _source.ReadAsync(rest, ct) != 0 || !_source.TrailerMatches(_crc.GetCurrentHashAsUInt32(), (uint)ReadSoFar))
            throw new InvalidDataException("The gzip body is truncated or corrupt (its trailer does not match its data).");
    }

    /// <summary>Passes the compressed bytes through, keeping the last 8 (a gzip member's trailer).</summary>
    private sealed class TrailerTap(Stream inner) : ForwardReadStream(inner)
    {
        private readonly byte[] _last = new byte[8];

        public bool TrailerMatches(uint crc, uint length) =>
            ReadSoFar >= 18 && BinaryPrimitives.ReadUInt32LittleEndian(_last) == crc && BinaryPrimitives.ReadUInt32LittleEndian(_last.AsSpan(4)) == length;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await Inner.ReadAsync(buffer, cancellationToken);
            Keep(buffer.Span[..read]);
            return read;
        }

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            ReadSoFar += bytes.Length;
            if (bytes.Length >= 8)
            {
                bytes[^8..].CopyTo(_last);
                return;
            }
            // Shift the kept bytes left and append the new ones.
            _last.AsSpan(bytes.Length).CopyTo(_last);
            bytes.CopyTo(_last.AsSpan(8 - bytes.Length));
        }
    }
}
