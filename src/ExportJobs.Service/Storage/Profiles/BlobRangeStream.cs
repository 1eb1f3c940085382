using System.Buffers;
using Azure;
using Azure.Storage.Blobs;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// A blob read as a Parquet reader reads it, from windows of its bytes each fetched in one request (a Parquet reader on
/// a plain blob stream makes several small requests per footer and per column chunk, each costing more CPU than the
/// bytes it brings): a blob of up to <see cref="WindowBytes"/> whole on opening; a larger one its tail (the footer) on
/// opening, then, from where <see cref="LoadAsync"/> or a read asks, <see cref="WindowBytes"/> (or what is asked, if
/// more, and never into the tail) — the row groups that follow come from the same window. So an open file holds two
/// windows, its tail and one before it, of a size that does not grow with the file, and a file is fetched in about
/// size / <see cref="WindowBytes"/> requests, each of its bytes once. Windows come from
/// a pool of their own, bounded whatever the processor count (the shared pool keeps arrays per processor). Each window
/// is checked against the MD5 the storage service sends for its range (<see cref="CheckedRanges"/>). The stream may be a
/// section of its blob (<see cref="_offset"/>): an ingested chunk's file of a shard, or a route of a <c>pdg</c> export's
/// file of a partition.
/// A whole blob of a known version (its ETag) is read from the host's copy of it instead, made first when there is none
/// (<see cref="FragmentFileCache"/>).
/// </summary>
internal sealed class BlobRangeStream : Stream
{
    /// <summary>
    /// 256 KB: a shard's reads hold up to two windows per open file, and a fragment file ingested from a batch of
    /// 25,000 lines fits in one (about 1,600 rows per shard of 16, 80 bytes a row compressed). 1 MB windows made a third
    /// of the requests, but at N = 1,000,000, where shards are read from large compacted files, peak RSS was 30-50 MB
    /// higher (docs/performance.md).
    /// </summary>
    private const int WindowBytes = 256 * 1024;
    private static readonly ArrayPool<byte> Windows = ArrayPool<byte>.Create(maxArrayLength: 4 * 1024 * 1024, maxArraysPerBucket: 32);

    private readonly BlobClient _blob;
    /// <summary>Where the stream's bytes begin in the blob.</summary>
    private readonly long _offset;
    private readonly long _length;
    private long _position;
    private Window _current = Window.None;
    /// <summary>
    /// The tail fetched on opening, kept beside <see cref="_current"/> until the file is closed: a Parquet reader checks
    /// the file's first bytes after it has the tail, then reads its footer, which without it took three more requests
    /// (the footer's length, the magic, the footer) for every file opened; and its last row groups are read from it
    /// (let go once the footer was read, the window that reached them fetched its bytes a second time, a request more
    /// per file).
    /// </summary>
    private Window _tail = Window.None;
    /// <summary>The host's copy of the blob, read in place of fetching it.</summary>
    private LocalCopy? _copy;

    private BlobRangeStream(BlobClient blob, long offset, long length) => (_blob, _offset, _length) = (blob, offset, length);

    /// <summary>
    /// The <paramref name="length"/> bytes of the blob from <paramref name="offset"/>, their tail (or all of them) already
    /// fetched; read from the host's copy of the blob's <paramref name="version"/> when it is a whole blob of a known
    /// version, or a section of a chunk file of <paramref name="chunkLength"/> bytes (from the host's copy of the chunk file).
    /// </summary>
    public static async Task<BlobRangeStream> OpenAsync(BlobClient blob, long offset, long length, CancellationToken ct,
        FragmentFileCache? cache = null, ETag? version = null, long chunkLength = 0)
    {
        var stream = new BlobRangeStream(blob, offset, length);
        try
        {
            if (cache is not null && version is { } known && (offset == 0 || chunkLength > 0))
                stream._copy = await cache.OpenAsync(blob, known, chunkLength > 0 ? chunkLength : length, ct);
            long tail = Math.Min(length, WindowBytes);
            stream._current = await stream.FetchAsync(length - tail, (int)tail, ct);
            if (tail < length) (stream._tail, stream._current) = (stream._current, Window.None);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Makes <paramref name="count"/> bytes from <paramref name="start"/> readable from memory.</summary>
    public async Task LoadAsync(long start, int count, CancellationToken ct)
    {
        if (!Readable(start, count)) await MoveWindowAsync(start, count, ct);
    }

    /// <summary>Whether the bytes are in the window, in the tail, or in the window up to the tail and in the tail from there.</summary>
    private bool Readable(long start, int count) =>
        _current.Covers(start, count) || _tail.Covers(start, count) ||
        (_tail.Count > 0 && start + count > _tail.Start && _current.Covers(start, (int)(_tail.Start - start)));

    /// <summary>
    /// Releases the current window and fetches, in its place, a window from <paramref name="start"/> holding the
    /// <paramref name="wanted"/> bytes that are not in the tail (<see cref="WindowSizeAt"/>).
    /// </summary>
    private async Task MoveWindowAsync(long start, int wanted, CancellationToken ct)
    {
        _current.Release();
        _current = Window.None;
        _current = await FetchAsync(start, WindowSizeAt(start, wanted), ct);
    }

    private void MoveWindow(long start, int wanted)
    {
        _current.Release();
        _current = Window.None;
        _current = Fetch(start, WindowSizeAt(start, wanted));
    }

    private async Task<Window> FetchAsync(long start, int count, CancellationToken ct)
    {
        if (_copy is not null) return FromCopy(start, count);
        var buffer = Windows.Rent(count);
        try
        {
            var response = await _blob.DownloadStreamingAsync(CheckedRanges.Ranged(_offset + start, count), ct);
            await using var content = response.Value.Content;
            int read = await content.ReadAtLeastAsync(buffer.AsMemory(0, count), count, throwOnEndOfStream: false, ct);
            return Checked(new Window(start, buffer, read), count, response.Value.Details.ContentHash);
        }
        catch
        {
            Windows.Return(buffer);
            throw;
        }
    }

    private Window Fetch(long start, int count)
    {
        if (_copy is not null) return FromCopy(start, count);
        var buffer = Windows.Rent(count);
        try
        {
            var response = _blob.DownloadStreaming(CheckedRanges.Ranged(_offset + start, count));
            using var content = response.Value.Content;
            int read = content.ReadAtLeast(buffer.AsSpan(0, count), count, throwOnEndOfStream: false);
            return Checked(new Window(start, buffer, read), count, response.Value.Details.ContentHash);
        }
        catch
        {
            Windows.Return(buffer);
            throw;
        }
    }

    /// <summary>The window, checked here against the MD5 the service sent for its range (<see cref="CheckedRanges"/>).</summary>
    private Window Checked(Window window, int asked, byte[]? md5)
    {
        if (asked <= CheckedRanges.MaxHashedRange) CheckedRanges.Check(_blob, _offset + window.Start, window.Bytes.AsSpan(0, window.Count), md5);
        return window;
    }

    /// <summary>A window read from the host's copy (a local file: the operating system's page cache, most often).</summary>
    private Window FromCopy(long start, int count)
    {
        var buffer = Windows.Rent(count);
        try
        {
            int read = 0, last;
            while (read < count && (last = RandomAccess.Read(_copy!.Handle, buffer.AsSpan(read, count - read), _offset + start + read)) > 0) read += last;
            return new Window(start, buffer, read);
        }
        catch
        {
            Windows.Return(buffer);
            throw;
        }
    }

    /// <summary>A window from <paramref name="position"/>: <see cref="WindowBytes"/> or <paramref name="wanted"/> if more, up to the tail, which holds the rest.</summary>
    private int WindowSizeAt(long position, int wanted)
    {
        long end = _tail.Count > 0 && position < _tail.Start ? _tail.Start : _length;
        return (int)Math.Min(end - position, Math.Max(WindowBytes, wanted));
    }

    public override int Read(Span<byte> buffer)
    {
        if (_position >= _length || buffer.IsEmpty) return 0;
        if (!Readable(_position, 1)) MoveWindow(_position, buffer.Length);
        return CopyFromWindow(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (_position >= _length || buffer.IsEmpty) return 0;
        if (!Readable(_position, 1)) await MoveWindowAsync(_position, buffer.Length, ct);
        return CopyFromWindow(buffer.Span);
    }

    private int CopyFromWindow(Span<byte> buffer)
    {
        var window = _current.Covers(_position, 1) ? _current : _tail;
        int offset = (int)(_position - window.Start);
        int count = Math.Min(buffer.Length, window.Count - offset);
        window.Bytes.AsSpan(offset, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _tail.Release();
        _tail = Window.None;
        _current.Release();
        _current = Window.None;
        _copy?.Dispose();
        _copy = null;
        base.Dispose(disposing);
    }

    /// <summary><see cref="Count"/> bytes of the blob from <see cref="Start"/>, in a pooled buffer until released.</summary>
    private sealed class Window(long start, byte[] bytes, int count)
    {
        public static readonly Window None = new(0, [], 0);

        public long Start { get; } = start;
        public byte[] Bytes { get; private set; } = bytes;
        public int Count { get; private set; } = count;

        public bool Covers(long start, int count) => start >= Start && start + count <= Start + Count;

        public void Release()
        {
            if (Bytes.Length > 0) Windows.Return(Bytes);
            (Bytes, Count) = ([], 0);
        }
    }
}
