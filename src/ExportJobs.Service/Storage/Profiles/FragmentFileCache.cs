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
/// windows of 256 KB), up to <see cref="ExportStorageOptions.LocalCacheBytes"/> (0: no copies):
/// <list type="bullet">
/// <item>A file written is new data, read soon (compaction reads what ingestion wrote, exports what compaction wrote):
/// it is kept, the least recently used copies going to make room.</item>
/// <item>A file fetched for a read is kept where there is room, or where copies not read since they were written, or
/// not read for <see cref="StaleAfter"/>, make room. Otherwise it is a passing copy: fetched whole as well, into a
/// file deleted once its reader lets go of it (passing copies together hold at most as much as the bound; past that,
/// a read fetches windows as without copies, which takes more requests: with a quarter of the bound, the floor was no
/// faster than before, docs/performance.md).
/// So a host whose files come to more than its bound, read by one export after another, keeps the copies it has from
/// one export to the next. Had each file fetched evicted the least recently used copy, every copy would have gone
/// before the next export reached it, and no read would have been served by one.</item>
/// </list>
/// The folder is the host's own, <c>exportjobs-cache-{process id}-…</c> under the temporary folder, deleted when the host
/// stops, and by the next host that starts on the machine if the process is gone.
/// </summary>
public sealed class FragmentFileCache : IDisposable
{
    private const string FolderPrefix = "exportjobs-cache-";
    /// <summary>
    /// How long a copy read once and not read again stays ahead of a file fetched for a read: a tenant exported at least
    /// this often keeps its copies from one export to the next. Copies of runs that another host deleted go after it.
    /// </summary>
    internal static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    private readonly long _maxBytes;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, Copy> _copies = new(StringComparer.Ordinal);
    /// <summary>The bytes of the copies held, and of those being fetched to be kept.</summary>
    private long _bytes;
    /// <summary>The bytes of the passing copies being fetched or read.</summary>
    private long _passingBytes;
    private long _nextFile;
    private long _clock;
    private long _hits, _misses, _passing;
    private string? _folder;

    public FragmentFileCache(IOptions<ExportStorageOptions> options, TimeProvider? time = null)
    {
        _maxBytes = options.Value.LocalCacheBytes;
        _time = time ?? TimeProvider.System;
        if (_maxBytes > 0) DeleteFoldersOfEndedProcesses();
    }

    /// <summary>Reads served from a copy, and reads of a file's version that had none.</summary>
    public long Hits => Interlocked.Read(ref _hits);
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Of the <see cref="Misses"/>, the reads served by a passing copy (fetched whole, not kept).</summary>
    public long Passing => Interlocked.Read(ref _passing);

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
    /// fetched whole, <see cref="CheckedRanges.MaxHashedRange"/> a request) — kept, or passing when there is no room for
    /// it; null when copies are off, the file is too large for them, there is no room even for a passing copy, or the
    /// blob is no longer of that version.
    /// </summary>
    internal async Task<LocalCopy?> OpenAsync(BlobClient blob, ETag version, long length, CancellationToken ct)
    {
        if (!Fits(length)) return null;
        if (Open(blob, version, length) is { } held)
        {
            Interlocked.Increment(ref _hits);
            return held;
        }
        Interlocked.Increment(ref _misses);
        if (Reserve(length) is not { } room) return null;
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
        }
        catch (Exception e)
        {
            DeleteQuietly(path);
            GiveBack(room, length);
            if (e is OperationCanceledException) throw;
            // A copy is never needed: the blob replaced since it was listed (412), a full or refused disk, a failed
            // download — the read fetches the blob as it would without copies, and fails there if the blob does.
            return null;
        }
        if (room == Room.Passing) return OpenPassing(path, length);
        Keep(blob, version, path, length, forRead: true);
        return Open(blob, version, length);
    }

    /// <summary>Where a file fetched for a read goes: among the copies kept, or into a passing copy.</summary>
    private enum Room { Kept, Passing }

    /// <summary>
    /// Room for a file fetched for a read: among the copies kept where there is room, or where copies not read since
    /// they were written, or not read for <see cref="StaleAfter"/>, make room (the least recently used going first);
    /// else among the passing copies, which hold at most as much as the bound; else none.
    /// </summary>
    private Room? Reserve(long length)
    {
        var evicted = new List<string>();
        Room? room = null;
        lock (_copies)
        {
            if (_bytes + length > _maxBytes)
            {
                var staleBefore = _time.GetUtcNow() - StaleAfter;
                var spare = _copies.Where(c => !c.Value.Read || c.Value.Used < staleBefore).ToList();
                if (_bytes - spare.Sum(c => c.Value.Bytes) + length <= _maxBytes) EvictLeastRecentlyUsed(spare, _maxBytes - length, evicted);
            }
            if (_bytes + length <= _maxBytes)
            {
                _bytes += length;
                room = Room.Kept;
            }
            else if (_passingBytes + length <= _maxBytes)
            {
                _passingBytes += length;
                room = Room.Passing;
            }
        }
        foreach (string file in evicted) DeleteQuietly(file);
        return room;
    }

    private void GiveBack(Room room, long length)
    {
        lock (_copies)
            if (room == Room.Kept) _bytes -= length;
            else _passingBytes -= length;
    }

    /// <summary>A passing copy, opened for reading and deleted from the folder at once: its bytes last until its reader lets go of it.</summary>
    private LocalCopy? OpenPassing(string path, long length)
    {
        try
        {
            var handle = OpenForReading(path);
            DeleteQuietly(path);
            Interlocked.Increment(ref _passing);
            return new LocalCopy(handle, () => GiveBack(Room.Passing, length));
        }
        catch (Exception e) when (DiskRefused(e))
        {
            DeleteQuietly(path);
            GiveBack(Room.Passing, length);
            return null;
        }
    }

    /// <summary>The copy held of that version and length, opened; null when there is none.</summary>
    private LocalCopy? Open(BlobClient blob, ETag version, long length)
    {
        string? path;
        lock (_copies)
        {
            path = _copies.TryGetValue(Key(blob), out var copy) && copy.Version == Unquoted(version) && copy.Bytes == length ? copy.Path : null;
            if (path is not null) (copy!.LastUse, copy.Used, copy.Read) = (++_clock, _time.GetUtcNow(), true);
        }
        if (path is null) return null;
        try
        {
            return new LocalCopy(OpenForReading(path));
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

    /// <summary>A copy's file opened for reading, which may be deleted while open: its reader reads on (an evicted or passing copy).</summary>
    private static SafeFileHandle OpenForReading(string path) => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);

    private bool Fits(long length) => _maxBytes > 0 && length <= _maxBytes / 4;

    /// <summary>
    /// Keeps the file at <paramref name="path"/> as the copy of <paramref name="version"/> of the blob; its bytes counted
    /// already when it was fetched <paramref name="forRead"/> (<see cref="Reserve"/>). Past the bound, the least recently
    /// used copies go.
    /// </summary>
    private void Keep(BlobClient blob, ETag version, string path, long length, bool forRead = false)
    {
        var evicted = new List<string>();
        lock (_copies)
        {
            if (_copies.TryGetValue(Key(blob), out var replaced)) Evict(Key(blob), replaced, evicted);
            _copies[Key(blob)] = new Copy(Unquoted(version), path, length) { LastUse = ++_clock, Used = _time.GetUtcNow(), Read = forRead };
            if (!forRead) _bytes += length;
            if (_bytes > _maxBytes) EvictLeastRecentlyUsed(_copies, _maxBytes * 3 / 4, evicted);
        }
        // A reader that has an evicted copy open reads on (OpenForReading).
        foreach (string file in evicted) DeleteQuietly(file);
    }

    /// <summary>Lets go of <paramref name="candidates"/>, least recently used first, until the copies come to at most <paramref name="bytes"/> (under the lock).</summary>
    private void EvictLeastRecentlyUsed(IEnumerable<KeyValuePair<string, Copy>> candidates, long bytes, List<string> evicted)
    {
        foreach (var (key, copy) in candidates.OrderBy(c => c.Value.LastUse).ToList())
        {
            if (_bytes <= bytes) break;
            Evict(key, copy, evicted);
        }
    }

    /// <summary>Lets go of a copy (under the lock); its file goes into <paramref name="evicted"/>, deleted after the lock.</summary>
    private void Evict(string key, Copy copy, List<string> evicted)
    {
        _copies.Remove(key);
        _bytes -= copy.Bytes;
        evicted.Add(copy.Path);
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
        /// <summary>When it was made or last read.</summary>
        public DateTimeOffset Used { get; set; }
        /// <summary>Whether it was made for a read, or read since it was written.</summary>
        public bool Read { get; set; }
    }
}

/// <summary>A copy of a fragment file opened for reading; a passing copy gives back its room once let go of.</summary>
internal sealed class LocalCopy(SafeFileHandle handle, Action? release = null) : IDisposable
{
    private Action? _release = release;

    public SafeFileHandle Handle { get; } = handle;

    public void Dispose()
    {
        Handle.Dispose();
        Interlocked.Exchange(ref _release, null)?.Invoke();
    }
}
