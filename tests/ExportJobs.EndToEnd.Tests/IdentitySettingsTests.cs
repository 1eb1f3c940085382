using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class IdentitySettingsTests(LocalHostFixture host)
{
    [Fact]
    public async Task A_sandbox_reads_the_defaults_until_it_stores_settings_which_If_Match_guards_and_no_other_sandbox_sees()
    {
        using var client = host.Client("identities");
        using var first = await client.GetAsync("config/identitySettings");
        var defaults = await LocalHostFixture.ReadAsync(first, HttpStatusCode.OK);
        Assert.Equal(["CRMID", "Email", "Phone", "IDFA", "GAID", "ECID", "AAID"], defaults["namespacePriority"]!.AsArray().Select(n => (string)n!));
        Assert.Empty(defaults["uniqueNamespaces"]!.AsArray());
        var defaultETag = first.Headers.ETag!;

        // Replacing the defaults with their ETag works once; a second writer holding the same ETag is refused.
        var settings = new { namespacePriority = new[] { "CRMID", "Email", "ECID" }, uniqueNamespaces = new[] { "CRMID" } };
        using var put = await Put(client, settings, defaultETag);
        var stored = await LocalHostFixture.ReadAsync(put, HttpStatusCode.OK);
        Assert.Equal(["CRMID"], stored["uniqueNamespaces"]!.AsArray().Select(n => (string)n!));
        await LocalHostFixture.ReadAsync(await Put(client, settings, defaultETag), HttpStatusCode.PreconditionFailed);
        using var read = await client.GetAsync("config/identitySettings");
        Assert.Equal(stored.ToJsonString(), (await LocalHostFixture.ReadAsync(read, HttpStatusCode.OK)).ToJsonString());
        Assert.Equal(put.Headers.ETag, read.Headers.ETag);

        // A stale ETag is refused; without If-Match the last writer wins; uniqueNamespaces may be left out.
        using var again = await Put(client, new { namespacePriority = new[] { "Email" } }, null);
        Assert.Empty((await LocalHostFixture.ReadAsync(again, HttpStatusCode.OK))["uniqueNamespaces"]!.AsArray());
        await LocalHostFixture.ReadAsync(await Put(client, settings, put.Headers.ETag), HttpStatusCode.PreconditionFailed);

        using var other = host.Client("dev");
        Assert.Equal(defaults.ToJsonString(), (await LocalHostFixture.ReadAsync(await other.GetAsync("config/identitySettings"), HttpStatusCode.OK)).ToJsonString());
    }

    [Theory]
    [InlineData("""{"uniqueNamespaces":["CRMID"]}""", "namespacePriority")]
    [InlineData("""{"namespacePriority":["CRMID","Email"],"uniqueNamespaces":["Email","CRM ID"]}""", "uniqueNamespaces[1]")]
    [InlineData("""{"namespacePriority":["CRMID","crmid"]}""", "namespacePriority")]
    [InlineData("""{"namespacePriority":["CRMID"],"linking":"on"}""", "linking")]
    [InlineData("""{"namespacePriority":"CRMID"}""", "namespacePriority")]
    public async Task A_bad_body_is_refused_naming_its_field_and_changes_nothing(string body, string field)
    {
        using var client = host.Client("identities");
        string before = (await LocalHostFixture.ReadAsync(await client.GetAsync("config/identitySettings"), HttpStatusCode.OK)).ToJsonString();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var problem = await LocalHostFixture.ReadAsync(await client.PutAsync("config/identitySettings", content), HttpStatusCode.BadRequest);
        Assert.Contains(field, problem.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(before, (await LocalHostFixture.ReadAsync(await client.GetAsync("config/identitySettings"), HttpStatusCode.OK)).ToJsonString());
    }

    private static Task<HttpResponseMessage> Put(HttpClient client, object settings, EntityTagHeaderValue? ifMatch)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, "config/identitySettings") { Content = JsonContent.Create(settings) };
        if (ifMatch is not null) request.Headers.IfMatch.Add(ifMatch);
        return client.SendAsync(request);
    }
}
