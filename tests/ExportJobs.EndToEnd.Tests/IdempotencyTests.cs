using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class IdempotencyTests(LocalHostFixture host)
{
    private static HttpRequestMessage Post(string path, HttpContent content, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    [Fact]
    public async Task Concurrent_duplicate_job_posts_create_one_job_and_another_payload_is_refused()
    {
        using var client = host.Client("idem");
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        string payload = $$$"""{"destination":{"datasetId":"{{{output}}}"},"schema":{"name":"_xdm.context.profile"}}""";

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var response = await client.SendAsync(Post("export/jobs", new StringContent(payload, Encoding.UTF8, "application/json"), "nightly-2026-11-28"));
            var body = await LocalHostFixture.ReadAsync(response, HttpStatusCode.OK);
            Assert.Equal($"/data/core/ups/export/jobs/{(long)body["id"]!}", response.Headers.Location!.OriginalString);
            Assert.Equal(TimeSpan.FromSeconds(5), response.Headers.RetryAfter!.Delta);
            return (long)body["id"]!;
        }));
        Assert.Single(answers.Distinct());
        var jobs = await LocalHostFixture.ReadAsync(await client.GetAsync("export/jobs?limit=100"), HttpStatusCode.OK);
        Assert.Single(jobs["records"]!.AsArray());

        string other = $$$"""{"fields":"personalEmail","destination":{"datasetId":"{{{output}}}"},"schema":{"name":"_xdm.context.profile"}}""";
        using var refused = await client.SendAsync(Post("export/jobs", new StringContent(other, Encoding.UTF8, "application/json"), "nightly-2026-11-28"));
        var problem = await LocalHostFixture.ReadAsync(refused, HttpStatusCode.UnprocessableEntity);
        Assert.Equal("Idempotency-Key", (string)problem["field"]!);

        using var fresh = await client.SendAsync(Post("export/jobs", new StringContent(payload, Encoding.UTF8, "application/json"), "another-key"));
        Assert.NotEqual(answers[0], (long)(await LocalHostFixture.ReadAsync(fresh, HttpStatusCode.OK))["id"]!);
    }

    [Fact]
    public async Task A_repeated_ingestion_with_its_key_answers_the_first_batch()
    {
        using var client = host.Client("idem");
        string dataset = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        HttpContent Body(string id) => new StringContent($$$"""{"identityMap":{"ecid":[{"id":"{{{id}}}"}]}}""" + "\n", Encoding.UTF8, "application/x-ndjson");

        var first = await LocalHostFixture.ReadAsync(await client.SendAsync(Post($"datasets/{dataset}/batches", Body("1"), "upload-1")), HttpStatusCode.Created);
        var again = await LocalHostFixture.ReadAsync(await client.SendAsync(Post($"datasets/{dataset}/batches", Body("1"), "upload-1")), HttpStatusCode.Created);
        Assert.Equal(first.ToJsonString(), again.ToJsonString());
        await LocalHostFixture.ReadAsync(await client.SendAsync(Post($"datasets/{dataset}/batches", Body("2"), "upload-1")), HttpStatusCode.UnprocessableEntity);
        await LocalHostFixture.ReadAsync(await client.SendAsync(Post($"datasets/{dataset}/batches", Body("1"), "bad key!")), HttpStatusCode.BadRequest);
    }
}
