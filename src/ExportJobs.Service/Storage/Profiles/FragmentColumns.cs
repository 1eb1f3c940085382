using System.Globalization;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The columns of a fragment file, and its row groups: a shard is read holding one of each of its runs (few, as
/// compaction bounds them), and a file's footer describes each of its groups (too small, and the footers grow large).
/// Each top-level member name of the file's records has a column <c>m{i}</c> of its values' JSON text, its name the
/// i-th of the file's <see cref="MembersKey"/> metadata (so any name is allowed); <see cref="Order"/> holds, per row,
/// the indexes of its members in the record's order; <see cref="Record"/> the whole text of a record kept whole
/// (<see cref="StoredRecord"/>); <see cref="Sequence"/> the record's place in its batch; <see cref="Memberships"/>, after
/// the member columns, the record's memberships index (<see cref="MembershipIndex"/>); after it, the typed leaves of the
/// members whose values have a shape (<see cref="LeafShape"/>, <see cref="LeavesKey"/>). A file of an earlier build has
/// only <see cref="Record"/> (every row is whole), no <see cref="Sequence"/> (every row's is 0) and no <see cref="Memberships"/>.
/// </summary>
internal static class FragmentColumns
{
    /// <summary>
    /// 1,000 rows: each column a read decodes costs a setup per group, which at 250 rows was most of decoding a
    /// one-segment read's columns (479 ns a row, against 194 at 1,000); a running shard holds one decoded group of each
    /// of its runs, so memory grows with this (docs/performance.md, "Row groups of 1,000 rows").
    /// </summary>
    public const int RowGroupSize = 1000;

    /// <summary>
    /// 250 rows in a <c>pdg</c> export's routed sections (<c>GraphShuffle</c>): a stage reads one from every shard at
    /// once, and with 1,000-row groups there too its peak reached the 512 MB bound.
    /// </summary>
    public const int RoutedRowGroupSize = 250;

    /// <summary>The most member columns a file has (an index of <see cref="Order"/> is a byte); records with other names are kept whole.</summary>
    public const int MaxMembers = 64;

    /// <summary>The longest member name (UTF-8 bytes, as written) that gets a column: a file's metadata names at most 64 × 256 bytes.</summary>
    public const int MaxMemberName = 256;

    /// <summary>The file metadata that names the member columns: a JSON array, the i-th name that of column <c>m{i}</c>.</summary>
    public const string MembersKey = "exportjobs.members";

    /// <summary>
    /// The file metadata that holds the values of the few-valued columns (<see cref="Indexed"/>): a JSON object of one
    /// array per column, whose rows hold indexes into it. A file without it (of an earlier build) holds their strings.
    /// </summary>
    public const string ValuesKey = "exportjobs.values";

    /// <summary>
    /// The file metadata that says the file's binary columns (<see cref="Id"/>, as UTF-8, <see cref="Record"/>,
    /// <see cref="Order"/> and the member columns) hold packs of values (<see cref="ValuePacks"/>); a file without it (of
    /// an earlier build) holds a value per row, its <see cref="Id"/> a string column.
    /// </summary>
    public const string PackedKey = "exportjobs.packed";

    /// <summary>
    /// The file metadata that names the form of its <see cref="Memberships"/> column (<see cref="MembershipsForm"/>): a
    /// read takes the index only from a file that names the form it reads, and looks at the member in any other.
    /// </summary>
    public const string MembershipsKey = "exportjobs.memberships", MembershipsForm = "1";

    /// <summary>
    /// The file metadata that names the typed leaves of its members (<see cref="LeafShape"/>): a JSON object from a member's
    /// index to its leaves, each an array of its type and then its path; leaf <c>j</c> of member <c>i</c> is column
    /// <see cref="LeafColumn"/>. A file without it (of an earlier build) keeps every value's text in its member's column.
    /// </summary>
    public const string LeavesKey = "exportjobs.leaves";

    /// <summary>
    /// The members whose values have no typed leaves: the maps of the system schema (identity namespaces, segment ids
    /// are their keys, data rather than a shape), which keep their text until they get map columns of their own
    /// (docs/storage.md, step 4).
    /// </summary>
    public static readonly IReadOnlySet<string> MapMembers = new HashSet<string>(StringComparer.Ordinal) { Core.Profiles.IdentityMap.Member, Core.Jobs.ExportSelection.SegmentMembership };

    public static string LeafColumn(int member, int leaf) => "m" + member.ToString(CultureInfo.InvariantCulture) + "_" + leaf.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whether a file's <see cref="Id"/> column, as read, holds strings (a file of an earlier build), not UTF-8 in packs.</summary>
    public static bool HoldsTextIds(DataField id) => id.ClrType != typeof(ReadOnlyMemory<byte>) && id.ClrType != typeof(byte[]);

    public const string Namespace = nameof(FragmentRow.IdentityNamespace), Id = nameof(FragmentRow.IdentityId), IngestTime = nameof(FragmentRow.IngestTimeMs),
        Dataset = nameof(FragmentRow.DatasetId), Batch = nameof(FragmentRow.BatchId), Record = nameof(FragmentRow.Record), Order = "Members",
        Sequence = nameof(FragmentRow.Sequence), Memberships = nameof(FragmentRow.Memberships);

    /// <summary>
    /// The columns of few distinct values in a file (a shard's namespaces; an ingested file's one dataset and batch, a
    /// compacted one's few), kept as indexes into <see cref="ValuesKey"/>: a read decodes a column of integers, where
    /// a column of strings cost a decoded array per row and value.
    /// </summary>
    public static readonly string[] Indexed = [Namespace, Dataset, Batch];

    /// <summary>Where the member columns start among the fields of <see cref="Schema"/>.</summary>
    public const int FirstMember = 8;

    public static string MemberColumn(int index) => "m" + index.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// A file's schema, with <paramref name="members"/> member columns and, after the memberships index, the typed leaves
    /// of those that have a shape: fields of its own (Parquet.Net sets a field's levels and path when a schema takes it,
    /// so schemas built at once must not share them).
    /// </summary>
    public static ParquetSchema Schema(int members, IReadOnlyList<LeafShape?>? shapes = null) => new(
    [
        new DataField(Namespace, typeof(int)), new DataField(Id, typeof(byte[]), isNullable: true), new DataField(IngestTime, typeof(long)),
        new DataField(Dataset, typeof(int)), new DataField(Batch, typeof(int)),
        new DataField(Record, typeof(byte[]), isNullable: true), new DataField(Order, typeof(byte[]), isNullable: true),
        new DataField(Sequence, typeof(long)),
        .. Enumerable.Range(0, members).Select(i => new DataField(MemberColumn(i), typeof(byte[]), isNullable: true)),
        new DataField(Memberships, typeof(byte[]), isNullable: true),
        .. (shapes ?? []).SelectMany((shape, m) => LeafFields(m, shape)),
    ]);

    /// <summary>The columns of a member's typed leaves (none without a shape), in its leaves' order; a string leaf's hold UTF-8, in packs.</summary>
    public static IEnumerable<DataField> LeafFields(int member, LeafShape? shape) =>
        (shape?.Leaves ?? []).Select((leaf, j) => new DataField(LeafColumn(member, j), leaf.Kind switch
        {
            LeafKind.String => typeof(byte[]),
            LeafKind.Integer => typeof(long),
            LeafKind.Double => typeof(double),
            _ => typeof(bool),
        }, isNullable: true));

    /// <summary>The typed leaves of a file's members, as <see cref="LeavesKey"/> names them.</summary>
    public static string LeavesText(IReadOnlyList<LeafShape?> shapes) => JsonSerializer.Serialize(
        shapes.Select((shape, m) => (shape, m)).Where(s => s.shape is not null)
            .ToDictionary(s => s.m.ToString(CultureInfo.InvariantCulture), s => s.shape!.Leaves.Select(l => (string[])[l.Kind.ToString(), .. l.Path]).ToArray()));

    /// <summary>The shapes <see cref="LeavesText"/> names, by member (null: none), for a file of <paramref name="members"/> member columns.</summary>
    public static LeafShape?[] ShapesOf(string? text, int members)
    {
        var shapes = new LeafShape?[members];
        if (text is null) return shapes;
        var named = JsonSerializer.Deserialize<Dictionary<string, string[][]>>(text)
            ?? throw new InvalidDataException($"A fragment file's {LeavesKey} is not an object.");
        foreach (var (member, leaves) in named)
        {
            if (!int.TryParse(member, NumberStyles.None, CultureInfo.InvariantCulture, out int m) || m >= members)
                throw new InvalidDataException($"A fragment file's {LeavesKey} names a member it has not.");
            shapes[m] = LeafShape.Of(leaves.Select(LeafOf).ToList());
        }
        return shapes;
    }

    private static LeafPath LeafOf(string[] named) =>
        named.Length >= 2 && Enum.TryParse<LeafKind>(named[0], out var kind) && Enum.IsDefined(kind) && kind.ToString() == named[0]
            ? new LeafPath(named[1..], kind)
            : throw new InvalidDataException($"A fragment file's {LeavesKey} names a leaf of no type it knows.");

    /// <summary>The member names of the rows, first seen first, as many as a file has columns for.</summary>
    public static IReadOnlyList<MemberName> NamesOf(IEnumerable<MemberName> names)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var table = new List<MemberName>();
        foreach (var name in names)
        {
            if (table.Count == MaxMembers) break;
            if (seen.Add(name.Text)) table.Add(name);
        }
        return table;
    }
}
