using System.Diagnostics;
using System.Globalization;
using Azure;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Options;
using Microsoft.Win32.SafeHandles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The host's copies, on its local disk, of the fragment files it wrote or read, so that a later read of the same
/// version of a file fetches nothing (each fetch costs the storage service about a millisecond of CPU whatever its size;
/// on the benchmark's two cores that was two thirds of the CPU a 2.0× DuckDB export has: docs/performance.md). Fragment
/// files are immutable, but a file of segment memberships is replaced under its name, so a copy is of one version (the
/// blob's ETag), and a read of another version fetches it again. Copies are made when a file is written (ingestion,
/// compaction, segment memberships) or first read (fetched whole, in one request up to 4 MB where a read fetched it in
/// windows of 256 KB); the least recently used go once they come to
/// more than <see cref="ExportStorageOptions.LocalCacheBytes"/> (0: no copies). The folder is the host's own,
/// <c>exportjobs-cache-{process id}-…</c> under the temporary folder, deleted when the host stops, and by the next host
/// that starts on the machine if the process is gone.
/// </summary>
public sealed class FragmentFileCache : IDisposable
{
    private const string FolderPrefix = "exportjobs-cache-";

    private readonly long _maxBytes;
    private readonly Dictionary<string, Copy> _copies = new(StringComparer.Ordinal);
    private long _bytes;
    private long _nextFile;
    private long _clock;
    private long _hits, _misses;
    private string? _folder;

    public FragmentFileCache(IOptions<ExportStorageOptions> options)
    {
        _maxBytes = options.Value.LocalCacheBytes;
        if (_maxBytes > 0) DeleteFoldersOfEndedProcesses();
    }

    /// <summary>Reads served from a copy, and reads of a file's version that had none.</summary>
    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>The host's folder of copies, once it has made one.</summary>
    internal string? Folder
    {
        get
        {
            lock (_copies) return _folder;
        }
    }

    /// <summary>The bytes of the copies held.</summary>
    public long Bytes
    {
        get
        {
            lock (_copies) return _bytes;
        }
    }

    /// <summary>
    /// The copy of <paramref name="version"/> of the blob, opened for reading, made first when there is none (the blob
    /// fetched whole, <see cref="CheckedRanges.MaxHashedRange"/> a request); null when copies are off, the file is too
    /// large for them, or the blob is no longer of that version.
    /// </summary>
    internal async Task<SafeFileHandle?> OpenAsync(BlobClient blob, ETag version, long length, CancellationToken ct)
    {
        if (!Fits(length)) return null;
        if (Open(blob, version, length) is { } held)
        {
            Interlocked.Increment(ref _hits);
            return held;
        }
        Interlocked.Increment(ref _misses);
        string? path = null;
        try
        {
            path = NextPath();
            FileStream? file = null;
            long copied;
            try
            {
                copied = await CheckedRanges.CopyAsync(blob, _ => file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0), ct, ifMatch: version);
            }
            finally
            {
                if (file is not null) await file.DisposeAsync();
            }
            if (copied != length) throw new InvalidDataException($"Blob '{blob.Name}' of version {version} holds {copied} bytes where its listing said {length}.");
            Keep(blob, version, path, length);
        }
        catch (Exception e)
        {
            DeleteQuietly(path);
            if (e is OperationCanceledException) throw;
            // A copy is never needed: the blob replaced since it was listed (412), a full or refused disk, a failed
            // download — the read fetches the blob as it would without copies, and fails there if the blob does.
            return null;
        }
        return Open(blob, version, length);
    }

    /// <summary>The copy held of that version and length, opened; null when there is none.</summary>
    private SafeFileHandle? Open(BlobClient blob, ETag version, long length)
    {
        string? path;
        lock (_copies)
        {
            path = _copies.TryGetValue(Key(blob), out var copy) && copy.Version == Unquoted(version) && copy.Bytes == length ? copy.Path : null;
            if (path is not null) copy!.LastUse = ++_clock;
        }
        if (path is null) return null;
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (IOException)
        {
            // Deleted under the host (evicted by another read between the look-up and the opening, or by hand).
            Remove(blob);
            return null;
        }
    }

    /// <summary>
    /// Takes the local file at <paramref name="path"/> (moved, not copied) as the copy of <paramref name="version"/> of
    /// the blob; leaves it where it is when it is not kept (too large, or the disk refuses it).
    /// </summary>
    internal void Add(BlobClient blob, ETag version, string path)
    {
        long length = new FileInfo(path).Length;
        if (!Fits(length)) return;
        try
        {
            string target = NextPath();
            File.Move(path, target);
            Keep(blob, version, target, length);
        }
        catch (Exception e) when (DiskRefused(e)) { } // Not copied: read from the blob.
    }

    /// <summary>Writes <paramref name="content"/> (from its start) as the copy of <paramref name="version"/> of the blob.</summary>
    internal async Task AddAsync(BlobClient blob, ETag version, Stream content, CancellationToken ct)
    {
        if (!Fits(content.Length)) return;
        string? target = null;
        try
        {
            target = NextPath();
            await using (var file = new FileStream(target, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: true))
            {
                content.Position = 0;
                await content.CopyToAsync(file, ct);
            }
            Keep(blob, version, target, content.Length);
        }
        catch (Exception e)
        {
            DeleteQuietly(target);
            if (!DiskRefused(e)) throw; // A full or refused disk: read from the blob.
        }
    }

    /// <summary>Deletes a file, or a folder and what it holds, as far as the system lets it (another host deleting it too, another user's, a file still open where open files cannot be deleted).</summary>
    private static void DeleteQuietly(string? path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else if (path is not null) File.Delete(path);
        }
        catch (Exception e) when (DiskRefused(e)) { }
    }

    /// <summary>The local disk refused a file operation: full, not ours, in use, or not there.</summary>
    private static bool DiskRefused(Exception e) => e is IOException or UnauthorizedAccessException;

    /// <summary>The copy of the blob now stands for <paramref name="version"/> (its metadata was set, which changes its ETag, not its bytes).</summary>
    internal void Renamed(BlobClient blob, ETag version)
    {
        lock (_copies)
            if (_copies.TryGetValue(Key(blob), out var copy)) copy.Version = Unquoted(version);
    }

    /// <summary>Deletes the copy of the blob (the blob was deleted or replaced).</summary>
    internal void Remove(BlobClient blob)
    {
        Copy? removed;
        lock (_copies)
            if (_copies.Remove(Key(blob), out removed)) _bytes -= removed.Bytes;
        if (removed is not null) DeleteQuietly(removed.Path);
    }

    private bool Fits(long length) => _maxBytes > 0 && length <= _maxBytes / 4;

    private void Keep(BlobClient blob, ETag version, string path, long length)
    {
        var evicted = new List<string>();
        lock (_copies)
        {
            if (_copies.Remove(Key(blob), out var replaced))
            {
                _bytes -= replaced.Bytes;
                evicted.Add(replaced.Path);
            }
            _copies[Key(blob)] = new Copy(Unquoted(version), path, length) { LastUse = ++_clock };
            _bytes += length;
            if (_bytes > _maxBytes)
                foreach (var (key, copy) in _copies.OrderBy(c => c.Value.LastUse).ToList())
                {
                    if (_bytes <= _maxBytes * 3 / 4) break;
                    _copies.Remove(key);
                    _bytes -= copy.Bytes;
                    evicted.Add(copy.Path);
                }
        }
        // A reader that has an evicted copy open reads on (opened with FileShare.Delete).
        foreach (string file in evicted) DeleteQuietly(file);
    }

    private static string Key(BlobClient blob) => blob.Uri.AbsoluteUri;

    /// <summary>An ETag as a listing gives it: a write's answer quotes it (the <c>ETag</c> header), a listing does not.</summary>
    private static string Unquoted(ETag version) => version.ToString().Trim('"');

    private string NextPath()
    {
        lock (_copies)
        {
            if (_folder is null)
            {
                _folder = Path.Combine(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");
                Directory.CreateDirectory(_folder);
            }
            return Path.Combine(_folder, (++_nextFile).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The folders of hosts whose process has ended (killed, so that they could not delete theirs).</summary>
    private static void DeleteFoldersOfEndedProcesses()
    {
        foreach (string folder in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
        {
            var name = Path.GetFileName(folder.AsSpan())[FolderPrefix.Length..];
            int dash = name.IndexOf('-');
            if (dash > 0 && int.TryParse(name[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !Running(pid)) DeleteQuietly(folder);
        }
    }

    private static bool Running(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        string? folder;
        lock (_copies)
        {
            (folder, _folder) = (_folder, null);
            _copies.Clear();
            _bytes = 0;
        }
        DeleteQuietly(folder); // What cannot be deleted now, the next host on the machine deletes.
    }

    private sealed class Copy(string version, string path, long bytes)
    {
        public string Version { get; set; } = version;
        public string Path { get; } = path;
        public long Bytes { get; } = bytes;
        public long LastUse { get; set; }
    }
}
