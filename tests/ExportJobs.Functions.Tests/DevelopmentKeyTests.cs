using ExportJobs.LocalHost;
using ExportJobs.Service.Access;
using ExportJobs.Service.Jobs;
using ExportJobs.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace ExportJobs.Functions.Tests;

public class DevelopmentKeyTests
{
    [Fact]
    public async Task A_token_from_the_LocalHost_development_key_is_refused_where_only_configured_keys_are_trusted()
    {
        var devTokens = DevelopmentTokens.LoadOrCreate(Path.Combine(TemporaryFolders.Create("dev-key-"), "dev.pem"));
        var options = new ApiAccessOptions { Issuer = TestAccess.Issuer, Audience = TestAccess.Audience, OrgClaim = TestAccess.OrgClaim };
        string token = devTokens.Mint(options, "1BD6382559DF0C130A49422D@AdobeOrg", TestAccess.ClientId, TimeSpan.FromMinutes(5));

        // The Function App's container: AddExportJobs and configuration, no TrustedSigningKey.
        await using var functionApp = await ServiceHarness.StartAsync();
        Assert.Empty(functionApp.Services.GetServices<TrustedSigningKey>());
        var refused = functionApp.Call.Request();
        refused.Headers.Authorization = "Bearer " + token;
        var (status, _) = await HandlerCall.ReadAsync(await functionApp.Get<ExportJobsHandler>().ListAsync(refused, default), refused.HttpContext);
        Assert.Equal(401, status);

        // The LocalHost's container trusts it.
        await using var localHost = await ServiceHarness.StartAsync(services => services.AddSingleton(devTokens.TrustedKey));
        var accepted = localHost.Call.Request();
        accepted.Headers.Authorization = "Bearer " + token;
        (status, _) = await HandlerCall.ReadAsync(await localHost.Get<ExportJobsHandler>().ListAsync(accepted, default), accepted.HttpContext);
        Assert.Equal(200, status);
    }

    [Fact]
    public void The_Function_App_does_not_reference_the_LocalHost()
    {
        Assert.DoesNotContain(typeof(ExportJobFunctions).Assembly.GetReferencedAssemblies(), a => a.Name == typeof(DevelopmentTokens).Assembly.GetName().Name);
    }
}
