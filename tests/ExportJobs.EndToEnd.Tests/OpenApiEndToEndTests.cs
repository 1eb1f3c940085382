using System.Net;
using ExportJobs.Service.Http;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class OpenApiEndToEndTests(LocalHostFixture host)
{
    [Fact]
    public async Task The_LocalHost_serves_the_OpenAPI_document_without_credentials()
    {
        using var anonymous = new HttpClient { BaseAddress = host.Client().BaseAddress };
        using var response = await anonymous.GetAsync("openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal(OpenApiDocument.Json, await response.Content.ReadAsStringAsync());
    }
}
