using Azure;
using Azure.Data.Tables;
using ExportJobs.Core;
using ExportJobs.Core.MergePolicies;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.MergePolicies;

/// <summary>
/// A tenant's merge policies in Table Storage (PartitionKey the tenant, RowKey the id), beside the built-in
/// <c>timestampOrdered-none-mp</c> every tenant has. One policy per tenant is the default: the built-in one until
/// another is made default.
/// </summary>
public sealed class MergePolicyStore(StorageClients clients)
{
    public async Task<IReadOnlyList<MergePolicy>> ListAsync(Tenant tenant, CancellationToken ct)
    {
        var stored = await ListStoredAsync(tenant, ct);
        var builtIn = MergePolicyRules.BuiltIn(tenant.OrgId, tenant.Sandbox) with { Default = !stored.Any(p => p.Default == true) };
        return [builtIn, .. stored.OrderBy(p => p.Name, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal)];
    }

    public async Task<MergePolicy?> GetAsync(Tenant tenant, string id, CancellationToken ct) =>
        id == MergePolicyRules.BuiltInId
            ? (await ListAsync(tenant, ct))[0]
            : await GetStoredAsync(tenant, id, ct);

    /// <summary>The default policy of the tenant: the one marked default, else the built-in one.</summary>
    public async Task<MergePolicy> GetDefaultAsync(Tenant tenant, CancellationToken ct) =>
        (await ListAsync(tenant, ct)).First(p => p.Default == true);

    /// <summary>Stores a policy; when it is the default, the former default stops being one.</summary>
    public async Task SaveAsync(Tenant tenant, MergePolicy policy, CancellationToken ct)
    {
        await WriteAsync(tenant, policy, ct);
        if (policy.Default != true) return;
        foreach (var other in await ListStoredAsync(tenant, ct))
            if (other.Default == true && other.Id != policy.Id) await WriteAsync(tenant, other with { Default = false }, ct);
    }

    public Task<bool> DeleteAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.MergePolicies, tenant.Key, id, ct);

    private Task<List<MergePolicy>> ListStoredAsync(Tenant tenant, CancellationToken ct) =>
        RecordJson.ListAsync(clients.MergePolicies, tenant.Key, CoreJson.Wire.MergePolicy, ct);

    private Task WriteAsync(Tenant tenant, MergePolicy policy, CancellationToken ct) =>
        RecordJson.SaveAsync(clients.MergePolicies, tenant.Key, policy.Id!, policy, CoreJson.Wire.MergePolicy, ct);

    private Task<MergePolicy?> GetStoredAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.GetAsync(clients.MergePolicies, tenant.Key, id, CoreJson.Wire.MergePolicy, ct);
}
