namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// The identities a read of fragment files keeps: a row by its namespace and id (<see cref="Keeps"/>), and, when the
/// filter can tell, a namespace it keeps none of (<see cref="KeepsAnyOf"/>): a row group whose rows are all of such a
/// namespace, as its footer's statistics show, is skipped before its bytes are fetched. A shard's rows are in identity
/// order, so a namespace's rows fill row groups of their own (a <c>pdg</c> export's route moves the cookies of a shard
/// and fetches none of its CRM records).
/// </summary>
internal sealed record IdentityFilter(Func<string, string, bool> Keeps, Func<string, bool>? KeepsAnyOf = null)
{
    /// <summary>Where the read records the row groups it kept every row of (a route's: the groups it moved whole).</summary>
    public RowGroupSet? KeptWhole { get; init; }

    /// <summary>Row groups known to hold no row the filter keeps (the complement's <see cref="KeptWhole"/>): skipped before they are fetched.</summary>
    public RowGroupSet? KeepsNoneOf { get; init; }

    /// <summary>
    /// A namespace the filter keeps every identity of: a row group whose rows are all of such a namespace is kept whole
    /// without <see cref="Keeps"/> asked of each row (an export stage's own CRM records, of which none moved).
    /// </summary>
    public Func<string, bool>? KeepsAllOf { get; init; }
}
