using System.Security.Cryptography;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Http;

/// <summary>
/// The lines of an NDJSON body as UTF-8 bytes, read as a stream through one pooled buffer: a line longer than
/// <paramref name="maxLineBytes"/> is skipped to its end without being held (<see cref="TooLong"/>), so what one body
/// holds in memory is bounded whatever it sends. Every byte read is added to <paramref name="hash"/> when there is one
/// (the body's idempotency hash: only a request with an <c>Idempotency-Key</c> needs it). A leading UTF-8 byte order mark is dropped; a line's trailing <c>\r</c> is not part of it.
/// </summary>
public sealed class NdjsonLines(Stream body, int maxLineBytes, IncrementalHash? hash) : IDisposable
{
    private const int ReadSize = 64 * 1024;
    private byte[] _buffer = IngestionBuffers.Pool.Rent(maxLineBytes + ReadSize);
    private int _start, _end;
    private bool _ended, _first = true;

    /// <summary>The number of the current line, from 1.</summary>
    public long Number { get; private set; }

    /// <summary>The current line, valid until the next <see cref="ReadAsync"/>; empty when <see cref="TooLong"/>.</summary>
    public ReadOnlyMemory<byte> Line { get; private set; }

    /// <summary>Whether the current line was longer than allowed (its bytes were skipped).</summary>
    public bool TooLong { get; private set; }

    /// <summary>Moves to the next line; false at the end of the body.</summary>
    public async ValueTask<bool> ReadAsync(CancellationToken ct)
    {
        TooLong = false;
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                Take(newline, newline + 1);
                return true;
            }
            if (_end - _start > maxLineBytes)
            {
                // Too long: drop what is held and read on to the line's end.
                TooLong = true;
                _start = _end = 0;
            }
            if (_ended)
            {
                if (_end == _start && !TooLong) return false;
                Take(_end, _end);
                return true;
            }
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int read = await body.ReadAsync(_buffer.AsMemory(_end, Math.Min(ReadSize, _buffer.Length - _end)), ct);
            hash?.AppendData(_buffer, _end, read);
            if (read == 0) _ended = true;
            if (_first && _end + read >= 3)
            {
                _first = false;
                if (_buffer.AsSpan(0, 3).SequenceEqual("\uFEFF"u8)) _start = 3;
            }
            _end += read;
        }
    }

    /// <summary>Makes <c>[_start, end)</c> the current line (less a trailing <c>\r</c>) and moves past it to <paramref name="next"/>.</summary>
    private void Take(int end, int next)
    {
        Number++;
        int length = end - _start;
        if (length > 0 && _buffer[end - 1] == '\r') length--;
        TooLong |= length > maxLineBytes;
        Line = TooLong ? ReadOnlyMemory<byte>.Empty : _buffer.AsMemory(_start, length);
        _start = next;
        _first = false;
    }

    public void Dispose()
    {
        if (_buffer.Length == 0) return;
        IngestionBuffers.Pool.Return(_buffer);
        _buffer = [];
    }
}
