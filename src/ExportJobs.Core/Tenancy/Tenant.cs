namespace ExportJobs.Core.Tenancy;

/// <summary>An organisation and one of its sandboxes: the scope of every record.</summary>
public sealed record Tenant(string OrgId, string Sandbox)
{
    /// <summary>The Table partition key and blob path segment of this tenant's records.</summary>
    public string Key => $"{OrgId}|{Sandbox}";
    public string BlobPrefix => $"{OrgId}/{Sandbox}";
}
