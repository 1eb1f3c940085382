using System.Buffers;
using System.Text.Json;
using ExportJobs.Core;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The rows of the identity a shard read is on, as the k-way merge of its runs gives them, and then its fragments. The
/// rows are held in place, as views of their row groups' columns, and made rows of their own only where they must be:
/// to be rewritten (<c>rewrite</c>, from the run's index; it keeps a row's identity and provenance), for an identity the
/// prefilter's memberships index cannot decide, and where a run's rows of the identity go on into another row group
/// (the run's reader may read over the first group before the last row comes). The fragments are parsed from one JSON
/// array of the identity's records in one buffer, a document per identity, held until <see cref="Clear"/>. With
/// <c>mergedBy</c>, the fragments are read only to be merged by that rule: the records are written in the order it folds
/// them, without the members they repeat (<see cref="RepeatedMembers"/>).
/// </summary>
internal sealed class IdentityRows(MemberPrefilter? prefilter, Func<int, FragmentRow, FragmentRow>? rewrite, MergeRule? mergedBy)
{
    private readonly RepeatedMembers? _repeated = mergedBy is null ? null : new RepeatedMembers();
    /// <summary>The rows of the identity in the order their records are written (by index in the rows held).</summary>
    private readonly List<int> _order = [];
    private readonly List<FragmentRowView> _views = [];
    private readonly List<int> _runs = [];
    private readonly List<FragmentRow> _rows = [];
    private readonly List<ProfileFragment> _fragments = [];
    private JsonDocument? _document;
    /// <summary>The JSON array of the identity's records that <see cref="_document"/> is parsed from, its buffer kept for the next identity.</summary>
    private readonly ArrayBufferWriter<byte> _text = new(4096);

    /// <summary>An identity's records parsed as one array: one level deeper than a record parsed alone may go.</summary>
    private static readonly JsonDocumentOptions RecordsArray = new() { MaxDepth = 65 };

    /// <summary>Whether a row read now belongs with the rows held: true when none are held.</summary>
    public bool Holds(FragmentRowView view) =>
        _views.Count > 0 ? view.SameIdentityAs(_views[0]) : _rows.Count == 0 || SameIdentity(view, _rows[0]);

    /// <summary>Adds the row of run <paramref name="run"/> that the merge gives next (one of the identity held).</summary>
    public void Add(FragmentRowView view, int run)
    {
        // A run's rows of one identity are next to each other in the merge.
        if (_views.Count > 0 && _runs[^1] == run && !_views[^1].InGroupOf(view)) MakeOwn();
        if (_rows.Count > 0) _rows.Add(Own(view, run));
        else
        {
            _views.Add(view);
            _runs.Add(run);
        }
    }

    /// <summary>
    /// The identity's fragments, oldest first (<see cref="OldestFirst"/>); null when no row is held or the prefilter
    /// leaves the identity out (nothing is parsed then). They are valid until <see cref="Clear"/>.
    /// </summary>
    public (Identity Identity, List<ProfileFragment> Fragments)? Parse()
    {
        if (_views.Count == 0 && _rows.Count == 0) return null;
        bool? decided = _views.Count > 0 ? prefilter?.Index?.TryDecide(_views) : prefilter?.Index?.TryDecide(_rows);
        if (decided == false) return null;
        if (_views.Count > 0 && (rewrite is not null || (prefilter is not null && decided is null))) MakeOwn();
        if (_views.Count > 0) Parse(_views);
        else if (prefilter is not null && decided is null && !prefilter.KeepsUndecided(_rows)) return null;
        else Parse(_rows);
        return (_fragments[0].Identity, OldestFirst(_fragments));
    }

    /// <summary>Lets go of the rows held and of the fragments parsed and their document.</summary>
    public void Clear()
    {
        _views.Clear();
        _runs.Clear();
        _rows.Clear();
        _fragments.Clear();
        _repeated?.Forget();
        _document?.Dispose();
        _document = null;
        _text.ResetWrittenCount();
    }

    private static bool SameIdentity(FragmentRowView view, FragmentRow row) =>
        IdentityKey.Compare(view.IdentityNamespace, view.IdentityId, row.IdentityNamespace, row.IdentityId) == 0;

    private void MakeOwn()
    {
        for (int r = 0; r < _views.Count; r++) _rows.Add(Own(_views[r], _runs[r]));
        _views.Clear();
        _runs.Clear();
    }

    private FragmentRow Own(FragmentRowView view, int run) => rewrite is null ? view.ToRow() : rewrite(run, view.ToRow());

    private void Parse<T>(List<T> rows) where T : IStoredFragment
    {
        InFoldOrder(rows);
        _text.Write("["u8);
        for (int r = 0; r < rows.Count; r++)
        {
            if (r > 0) _text.Write(","u8);
            rows[_order[r]].AppendJsonTo(_text, _repeated);
        }
        _text.Write("]"u8);
        _document = JsonDocument.Parse(_text.WrittenMemory, RecordsArray);
        var identity = new Identity(rows[0].IdentityNamespace, rows[0].IdentityId);
        int index = 0;
        foreach (var record in _document.RootElement.EnumerateArray()) _fragments.Add(rows[_order[index++]].ToFragment(identity, record));
    }

    /// <summary>
    /// Puts the rows' indexes in the order the merge folds their fragments (<see cref="OldestFirst"/>, then
    /// <c>mergedBy</c>'s stable sort: by the rule, then oldest first, then as held), or as held without <c>mergedBy</c>.
    /// </summary>
    private void InFoldOrder<T>(List<T> rows) where T : IStoredFragment
    {
        _order.Clear();
        for (int r = 0; r < rows.Count; r++)
        {
            int at = r;
            while (mergedBy is not null && at > 0 && FoldsAfter(rows[_order[at - 1]], rows[r])) at--;
            _order.Insert(at, r);
        }
    }

    private bool FoldsAfter<T>(T a, T b) where T : IStoredFragment =>
        (mergedBy!.Compare(a.DatasetId, a.IngestTimeMs, b.DatasetId, b.IngestTimeMs) is var byRule and not 0 ? byRule
            : OldestFirstOrder(a.IngestTimeMs, a.BatchId, a.Sequence, b.IngestTimeMs, b.BatchId, b.Sequence)) > 0;

    /// <summary>
    /// An identity's fragments by ingest time, then batch id, each batch's in its order: its records' places in it (a
    /// stitched profile's fragments of one batch come from several identities), and for records of earlier builds,
    /// which kept no place, the order of their files' names, whichever files (ingested or compacted) hold them.
    /// </summary>
    private static List<ProfileFragment> OldestFirst(List<ProfileFragment> fragments) =>
        fragments.SortStable((a, b) => OldestFirstOrder(a.IngestTimeMs, a.BatchId, a.Sequence, b.IngestTimeMs, b.BatchId, b.Sequence));

    /// <summary>How two fragments come oldest first (<see cref="OldestFirst"/>): by ingest time, then batch id, then place in the batch.</summary>
    private static int OldestFirstOrder(long timeA, string batchA, long sequenceA, long timeB, string batchB, long sequenceB) =>
        timeA != timeB ? timeA.CompareTo(timeB) : string.CompareOrdinal(batchA, batchB) is var byBatch and not 0 ? byBatch : sequenceA.CompareTo(sequenceB);
}
