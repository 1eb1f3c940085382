using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ExportJobs.TestSupport;

namespace ExportJobs.EndToEnd.Tests;

[Collection(LocalHostCollection.Name)]
public class ScheduleEndToEndTests(LocalHostFixture host)
{
    private static readonly TimeSpan TwoTicks = TimeSpan.FromSeconds(140);

    [Fact]
    public async Task An_every_minute_schedule_creates_a_job_that_succeeds_and_stops_when_deactivated()
    {
        using var client = host.Client("scheduled");
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var schedule = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/schedules", new
        {
            name = "every minute",
            type = "export",
            state = "active",
            schedule = "0 * * * * ?",
            properties = new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } },
        }), HttpStatusCode.OK);
        string id = (string)schedule["id"]!;
        Assert.NotNull((string?)schedule["nextRunTime"]);

        var jobs = await Poll.UntilAsync(() => ListAsync(client), list => list.Count > 0, TwoTicks, "the schedule's first job");
        var job = jobs[0]!;
        Assert.Equal(id, (string)job["scheduleId"]!);
        await LocalHostFixture.WaitForJobAsync(client, (long)job["id"]!, s => s == "SUCCEEDED");

        using var patch = new StringContent("""[{"op":"replace","path":"/state","value":"inactive"}]""", Encoding.UTF8, "application/json-patch+json");
        using (var patched = await client.PatchAsync($"config/schedules/{id}", patch)) Assert.Equal(HttpStatusCode.NoContent, patched.StatusCode);
        int count = (await ListAsync(client)).Count;

        // Wait until the timer has ticked past the next minute, then no new job may have appeared.
        var read = await LocalHostFixture.ReadAsync(await client.GetAsync($"config/schedules/{id}"), HttpStatusCode.OK);
        Assert.Equal("inactive", (string)read["state"]!);
        var passed = DateTimeOffset.UtcNow.AddMinutes(1).AddSeconds(5);
        await Poll.UntilAsync(() => Task.FromResult(DateTimeOffset.UtcNow), now => now > passed, TwoTicks, "the next timer tick to pass");
        Assert.Equal(count, (await ListAsync(client)).Count);

        var list = await LocalHostFixture.ReadAsync(await client.GetAsync("config/schedules?limit=1"), HttpStatusCode.OK);
        Assert.Equal(1, (int)list["_page"]!["totalCount"]!);
        Assert.Equal(id, (string)list["children"]![0]!["id"]!);
    }

    private static async Task<JsonArray> ListAsync(HttpClient client) =>
        (await LocalHostFixture.ReadAsync(await client.GetAsync("export/jobs?limit=100"), HttpStatusCode.OK))["records"]!.AsArray();
}
