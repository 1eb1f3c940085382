using System.Runtime.CompilerServices;
using Azure.Storage.Blobs;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Reads a run of fragment files — one ingested file, or the parts a compaction wrote, whose identity ranges follow
/// each other — as one stream of rows, holding one part open at a time (its footer, a window of its bytes, one row
/// group), and none once the run is read; of its records, the members of <c>members</c> (all when null).
/// <see cref="Index"/> is the run's place among the runs read with it (older runs first).
/// </summary>
internal sealed class FragmentCursor : IAsyncDisposable
{
    private readonly Queue<(BlobClient Blob, FileSection Section)> _parts;
    private readonly MemberSelection? _members;
    private readonly IdentityFilter? _keep;
    private readonly FragmentFileCache? _cache;
    private FragmentFileReader? _file;

    private FragmentCursor(IEnumerable<(BlobClient Blob, FileSection Section)> parts, int index, MemberSelection? members, IdentityFilter? keep, FragmentFileCache? cache)
    {
        _parts = new(parts);
        Index = index;
        _members = members;
        _keep = keep;
        _cache = cache;
    }

    public int Index { get; }

    /// <summary>The row the run is on, read in place (valid as <see cref="FragmentRowView"/> says).</summary>
    public FragmentRowView View { get; private set; }

    /// <summary>The row the run is on, made into a row of its own.</summary>
    public FragmentRow Current => _file!.Current;

    /// <summary>The member names of the run's parts read so far (a compacted run's parts all have the same; the first is read on opening).</summary>
    public IReadOnlyList<MemberName> Members { get; private set; } = [];

    /// <summary>By member of <see cref="Members"/>, the typed leaves the run's first part keeps of it (null: none).</summary>
    public IReadOnlyList<LeafShape?> Shapes { get; private set; } = [];

    /// <summary>
    /// The run of files (in part order, each a blob or a section of one) positioned on its first row (of an identity
    /// <paramref name="keep"/> keeps, when given); null when it has none. Files are read from the host's copies in
    /// <paramref name="cache"/>, a copy made when a file without one is first read.
    /// </summary>
    public static async Task<FragmentCursor?> OpenAsync(IEnumerable<(BlobClient Blob, FileSection Section)> parts, int index, MemberSelection? members,
        IdentityFilter? keep, FragmentFileCache? cache, CancellationToken ct)
    {
        var cursor = new FragmentCursor(parts, index, members, keep, cache);
        try
        {
            if (await cursor.MoveNextAsync(ct)) return cursor;
        }
        catch
        {
            await cursor.DisposeAsync();
            throw;
        }
        await cursor.DisposeAsync();
        return null;
    }

    /// <summary>Moves to the run's next row; completes at once (no state machine) while its file's row group holds one.</summary>
    public ValueTask<bool> MoveNextAsync(CancellationToken ct)
    {
        if (_file is null) return NextFileAsync(ct);
        var moved = _file.MoveNextAsync(ct);
        if (!moved.IsCompletedSuccessfully) return AfterReadAsync(moved, ct);
        return moved.Result ? ValueTask.FromResult(Moved()) : NextFileAsync(ct);
    }

    private async ValueTask<bool> AfterReadAsync(ValueTask<bool> moved, CancellationToken ct) => await moved ? Moved() : await NextFileAsync(ct);

    private bool Moved()
    {
        View = _file!.View;
        return true;
    }

    private async ValueTask<bool> NextFileAsync(CancellationToken ct)
    {
        while (true)
        {
            await DisposeAsync();
            if (!_parts.TryDequeue(out var next)) return false;
            _file = await FragmentFileReader.OpenAsync(next.Blob, next.Section.Offset, next.Section.Length, _members, _keep, ct, _cache, next.Section.Version, next.Section.ChunkLength);
            if (Members.Count == 0) (Members, Shapes) = (_file.Members, _file.Shapes);
            if (await _file.MoveNextAsync(ct)) return Moved();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_file is not null) await _file.DisposeAsync();
        _file = null;
    }

    /// <summary>
    /// The rows of several runs as one stream ordered by identity key, then by run, then as each run holds them —
    /// a k-way merge holding one row group of each run. Each cursor is yielded on the row that comes next. A run whose
    /// next row still comes before every other run's is yielded again without going through the queue: an identity's
    /// rows of a run are together, and most identities are in one run.
    /// </summary>
    public static async IAsyncEnumerable<FragmentCursor> MergeAsync(IReadOnlyList<FragmentCursor> runs, [EnumeratorCancellation] CancellationToken ct)
    {
        var queue = new PriorityQueue<FragmentCursor, (string Namespace, ReadOnlyMemory<byte> Id, int Run)>(KeyThenRun.Instance);
        foreach (var run in runs) queue.Enqueue(run, run.Key);
        if (!queue.TryDequeue(out var next, out _)) yield break;
        while (true)
        {
            yield return next;
            if (!await next.MoveNextAsync(ct))
            {
                if (!queue.TryDequeue(out next, out _)) yield break;
            }
            else if (queue.TryPeek(out _, out var first) && KeyThenRun.Instance.Compare(next.Key, first) > 0)
                next = queue.EnqueueDequeue(next, next.Key);
        }
    }

    /// <summary>The row's identity key (<see cref="IdentityKey"/>), its id as UTF-8: the merge makes no id's string.</summary>
    private (string Namespace, ReadOnlyMemory<byte> Id, int Run) Key => (View.IdentityNamespace, View.IdBytes, Index);

    private sealed class KeyThenRun : IComparer<(string Namespace, ReadOnlyMemory<byte> Id, int Run)>
    {
        public static readonly KeyThenRun Instance = new();

        public int Compare((string Namespace, ReadOnlyMemory<byte> Id, int Run) x, (string Namespace, ReadOnlyMemory<byte> Id, int Run) y)
        {
            int byKey = IdentityKey.Compare(x.Namespace, x.Id.Span, y.Namespace, y.Id.Span);
            return byKey != 0 ? byKey : x.Run.CompareTo(y.Run);
        }
    }
}
