namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The top-level members of its records a read decodes: those of <c>Only</c> (every one when null), less
/// <c>Except</c>. A read given no selection decodes every member. With <c>Indexed</c> (one of them), the read also
/// reads the files' memberships index (<see cref="MembershipIndex"/>) and decodes that member only in the row groups
/// with a row the index does not describe (all of a file of an earlier build): the caller decides from the index where
/// it can, and looks at the member elsewhere.
/// </summary>
public sealed record MemberSelection(IReadOnlySet<string>? Only, string? Except = null, string? Indexed = null)
{
    /// <summary>The members of <paramref name="only"/>; null (every member) when it is null.</summary>
    public static MemberSelection? Of(IReadOnlySet<string>? only, string? indexed = null) => only is null ? null : new(only, Indexed: indexed);

    public bool Reads(string name) => name != Except && (Only is null || Only.Contains(name));
}
