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
public sealed class GzipBody : Stream
{
    private readonly TrailerTap _source;
    private readonly GZipStream _inflated;
    private readonly Crc32 _crc = new();
    private long _length;
    private bool _checked;

    public GzipBody(Stream compressed)
    {
        _source = new TrailerTap(compressed);
        _inflated = new GZipStream(_source, CompressionMode.Decompress);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        int read = await _inflated.ReadAsync(buffer, ct);
        if (read > 0)
        {
            _crc.Append(buffer.Span[..read]);
            _length += read;
        }
        else if (buffer.Length > 0) await CheckWholeAsync(ct);
        return read;
    }

    private async Task CheckWholeAsync(CancellationToken ct)
    {
        if (_checked) return;
        _checked = true;
        var rest = new byte[1];
        if (await _source.ReadAsync(rest, ct) != 0 || !_source.TrailerMatches(_crc.GetCurrentHashAsUInt32(), (uint)_length))
            throw new InvalidDataException("The gzip body is truncated or corrupt (its trailer does not match its data).");
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _length; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _inflated.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Passes the compressed bytes through, keeping the last 8 (a gzip member's trailer).</summary>
    private sealed class TrailerTap(Stream inner) : Stream
    {
        private readonly byte[] _last = new byte[8];
        private long _total;

        public bool TrailerMatches(uint crc, uint length) =>
            _total >= 18 && BinaryPrimitives.ReadUInt32LittleEndian(_last) == crc && BinaryPrimitives.ReadUInt32LittleEndian(_last.AsSpan(4)) == length;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            int read = await inner.ReadAsync(buffer, ct);
            Keep(buffer.Span[..read]);
            return read;
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int read = inner.Read(buffer, offset, count);
            Keep(buffer.AsSpan(offset, read));
            return read;
        }

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            _total += bytes.Length;
            if (bytes.Length >= 8)
            {
                bytes[^8..].CopyTo(_last);
                return;
            }
            // Shift the kept bytes left and append the new ones.
            _last.AsSpan(bytes.Length).CopyTo(_last);
            bytes.CopyTo(_last.AsSpan(8 - bytes.Length));
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _total; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}
