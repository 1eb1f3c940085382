using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The top-level members of its records a read decodes: those of <c>Only</c> (every one when null), less
/// <c>Except</c>. A read given no selection decodes every member. With <c>Indexed</c> (one of them), the read also
/// reads the files' memberships index (<see cref="MembershipIndex"/>) and decodes that member only in the row groups
/// with a row the index does not describe (all of a file of an earlier build): the caller decides from the index where
/// it can, and looks at the member elsewhere. A member of <c>Partly</c> is read only as far as its projection can
/// depend on it: of its typed leaves (<see cref="LeafShape"/>), those its projection <see cref="FieldProjection.Touches">touches</see>.
/// </summary>
public sealed record MemberSelection(IReadOnlySet<string>? Only, string? Except = null, string? Indexed = null,
    IReadOnlyDictionary<string, FieldProjection>? Partly = null)
{
    /// <summary>The members of <paramref name="only"/>; null (every member) when it is null.</summary>
    public static MemberSelection? Of(IReadOnlySet<string>? only, string? indexed = null, IReadOnlyDictionary<string, FieldProjection>? partly = null) =>
        only is null ? null : new(only, Indexed: indexed, Partly: partly);

    public bool Reads(string name) => name != Except && (Only is null || Only.Contains(name));

    /// <summary>Whether the read needs the leaf at <paramref name="path"/> of member <paramref name="name"/>.</summary>
    public bool ReadsLeaf(string name, IReadOnlyList<string> path) => Partly?.GetValueOrDefault(name) is not { } projection || projection.Touches(path);
}
