using Azure;
using ExportJobs.Core;
using ExportJobs.Core.Identities;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A sandbox's identity settings, one Table entity per tenant (PartitionKey the tenant, RowKey <c>settings</c>); a
/// sandbox that never stored any has <see cref="IdentitySettings.Default"/>, with a fixed ETag.
/// </summary>
public sealed class IdentitySettingsStore(StorageClients clients)
{
    private const string Row = "settings";

    /// <summary>The ETag of the defaults: an <c>If-Match</c> with it replaces them only while no settings are stored.</summary>
    public static readonly ETag DefaultETag = new("\"default\"");

    public async Task<RecordJson.Versioned<IdentitySettings>> GetAsync(Tenant tenant, CancellationToken ct) =>
        await RecordJson.GetVersionedAsync(clients.IdentitySettings, tenant.Key, Row, CoreJson.Wire.IdentitySettings, ct)
        ?? new RecordJson.Versioned<IdentitySettings>(IdentitySettings.Default, DefaultETag);

    /// <summary>
    /// Stores the settings in place of the current ones: with <paramref name="ifMatch"/>, only over that version (the
    /// defaults' ETag: only while none are stored), else <see cref="RecordJson.ReplaceOutcome.Stale"/>.
    /// </summary>
    public async Task<(RecordJson.ReplaceOutcome Outcome, ETag ETag)> PutAsync(Tenant tenant, IdentitySettings settings, ETag? ifMatch, CancellationToken ct)
    {
        var table = clients.IdentitySettings;
        if (ifMatch is null) return (RecordJson.ReplaceOutcome.Replaced, await RecordJson.SaveAsync(table, tenant.Key, Row, settings, CoreJson.Wire.IdentitySettings, ct));
        if (ifMatch == DefaultETag)
        {
            try
            {
                return (RecordJson.ReplaceOutcome.Replaced, await RecordJson.AddAsync(table, tenant.Key, Row, settings, CoreJson.Wire.IdentitySettings, ct));
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                return (RecordJson.ReplaceOutcome.Stale, default);
            }
        }
        var (outcome, record) = await RecordJson.ReplaceAsync(table, tenant.Key, Row, CoreJson.Wire.IdentitySettings, _ => settings, ifMatch, ct);
        return (outcome == RecordJson.ReplaceOutcome.NotFound ? RecordJson.ReplaceOutcome.Stale : outcome, record.ETag);
    }
}
