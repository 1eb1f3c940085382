namespace ExportJobs.Service.Http;

/// <summary>A read-only view of a body that throws once more than a given number of bytes has been read from it.</summary>
public sealed class BodyLimitStream(Stream inner, long maxBytes, bool disposeInner = false) : ForwardReadStream(inner, disposeInner)
{
    public sealed class ExceededException() : IOException("The body is larger than allowed.");

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken);
        ReadSoFar += read;
        if (ReadSoFar > maxBytes) throw new ExceededException();
        return read;
    }
}
