namespace ExportJobs.Service.Http;

/// <summary>
/// A read-only, forward-only stream over another, which it disposes: what the body streams share. A subclass reads
/// through <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>; the other reads go there too.
/// </summary>
public abstract class ForwardReadStream(Stream inner, bool disposeInner = true) : Stream
{
    protected Stream Inner => inner;

    /// <summary>Bytes read so far.</summary>
    protected long ReadSoFar { get; set; }

    public abstract override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default);

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => ReadSoFar; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && disposeInner) inner.Dispose();
        base.Dispose(disposing);
    }
}
