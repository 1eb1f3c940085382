namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The top-level members of its records a read decodes: those of <c>Only</c> (every one when null), less
/// <c>Except</c>. A read given no selection decodes every member.
/// </summary>
public sealed record MemberSelection(IReadOnlySet<string>? Only, string? Except = null)
{
    /// <summary>The members of <paramref name="only"/>; null (every member) when it is null.</summary>
    public static MemberSelection? Of(IReadOnlySet<string>? only) => only is null ? null : new(only);

    public bool Reads(string name) => name != Except && (Only is null || Only.Contains(name));
}
