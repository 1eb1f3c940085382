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
        (await GetVersionedAsync(tenant, id, ct))?.Value;

    /// <summary>A policy with its ETag (the built-in one's is fixed: it never changes).</summary>
    public async Task<RecordJson.Versioned<MergePolicy>?> GetVersionedAsync(Tenant tenant, string id, CancellationToken ct) =>
        id == MergePolicyRules.BuiltInId
            ? new RecordJson.Versioned<MergePolicy>((await ListAsync(tenant, ct))[0], BuiltInETag)
            : await RecordJson.GetVersionedAsync(clients.MergePolicies, tenant.Key, id, CoreJson.Wire.MergePolicy, ct);

    private static readonly ETag BuiltInETag = new("\"builtin-1\"");

    /// <summary>The default policy of the tenant: the one marked default, else the built-in one.</summary>
    public async Task<MergePolicy> GetDefaultAsync(Tenant tenant, CancellationToken ct) =>
        (await ListAsync(tenant, ct)).First(p => p.Default == true);

    /// <summary>Stores a new policy; its ETag. When it is the default, the former default stops being one.</summary>
    public async Task<ETag> AddAsync(Tenant tenant, MergePolicy policy, CancellationToken ct)
    {
        var etag = await RecordJson.AddAsync(clients.MergePolicies, tenant.Key, policy.Id!, policy, CoreJson.Wire.MergePolicy, ct);
        await ClearOtherDefaultsAsync(tenant, policy, ct);
        return etag;
    }

    /// <summary>Applies <paramref name="change"/> by compare-and-swap (see <see cref="RecordJson.ReplaceAsync"/>); when the result is the default, the former default stops being one.</summary>
    public async Task<(RecordJson.ReplaceOutcome Outcome, RecordJson.Versioned<MergePolicy> Record)> ReplaceAsync(Tenant tenant, string id,
        Func<MergePolicy, MergePolicy> change, ETag? ifMatch, CancellationToken ct)
    {
        var result = await RecordJson.ReplaceAsync(clients.MergePolicies, tenant.Key, id, CoreJson.Wire.MergePolicy, change, ifMatch, ct);
        if (result.Outcome == RecordJson.ReplaceOutcome.Replaced) await ClearOtherDefaultsAsync(tenant, result.Record.Value, ct);
        return result;
    }

    private async Task ClearOtherDefaultsAsync(Tenant tenant, MergePolicy policy, CancellationToken ct)
    {
        if (policy.Default != true) return;
        foreach (var other in await ListStoredAsync(tenant, ct))
            if (other.Default == true && other.Id != policy.Id)
                await RecordJson.ReplaceAsync(clients.MergePolicies, tenant.Key, other.Id!, CoreJson.Wire.MergePolicy, p => p with { Default = false }, null, ct);
    }

    public Task<bool> DeleteAsync(Tenant tenant, string id, CancellationToken ct) =>
        RecordJson.DeleteAsync(clients.MergePolicies, tenant.Key, id, ct);

    private Task<List<MergePolicy>> ListStoredAsync(Tenant tenant, CancellationToken ct) =>
        RecordJson.ListAsync(clients.MergePolicies, tenant.Key, CoreJson.Wire.MergePolicy, ct);
}
