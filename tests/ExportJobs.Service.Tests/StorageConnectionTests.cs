using ExportJobs.Service;
using ExportJobs.Service.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ExportJobs.Service.Tests;

/// <summary>The service reaches its storage account by connection string or, without keys, by name with an Entra identity.</summary>
public class StorageConnectionTests
{
    private static ExportStorageOptions Options(IDictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(TestSupport.TestAccess.Settings())
        {
            ["ExportJobs:StorageConnection"] = null,
        }.Concat(settings).GroupBy(kv => kv.Key).Select(g => g.Last())).Build();
        using var provider = new ServiceCollection().AddLogging().AddExportJobs(configuration).BuildServiceProvider();
        return provider.GetRequiredService<IOptions<ExportStorageOptions>>().Value;
    }

    [Fact]
    public void An_account_name_gives_identity_based_clients_on_the_accounts_endpoints()
    {
        var options = Options(new Dictionary<string, string?> { ["ExportJobs:StorageAccountName"] = "exportjobsprod", ["ExportJobs:StorageClientId"] = "00000000-0000-0000-0000-000000000001" });
        var clients = new StorageClients(Microsoft.Extensions.Options.Options.Create(options));
        Assert.Equal(new Uri("https://exportjobsprod.table.core.windows.net/exportjobs"), clients.Jobs.Uri);
        Assert.Equal(new Uri("https://exportjobsprod.blob.core.windows.net/profiles"), clients.Profiles.Uri);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("UseDevelopmentStorage=true", "exportjobsprod")]
    [InlineData(null, "Not_An_Account")]
    public void Neither_or_both_or_a_bad_name_is_refused_at_start(string? connection, string? account)
    {
        var error = Assert.Throws<OptionsValidationException>(() => Options(new Dictionary<string, string?>
        {
            ["ExportJobs:StorageConnection"] = connection,
            ["ExportJobs:StorageAccountName"] = account,
        }));
        Assert.Contains("StorageAccountName", error.Message);
    }
}
