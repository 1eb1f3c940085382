using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace ExportJobs.Benchmarks;

/// <summary>
/// An every-minute export schedule on the LocalHost's own timer for <c>minutes</c> due times: each due time must make
/// exactly one job, created within 2 s of it, with the schedule's <c>lastRunTime</c> equal to it. Prints one line per due
/// time and exits non-zero when one is late, missing or doubled.
/// </summary>
public sealed class ScheduleCheck(BenchEnvironment environment)
{
    public async Task<int> RunAsync(int minutes)
    {
        using var http = await environment.ClientAsync(environment.Api);
        var output = await http.PostAsJsonAsync("datasets", new { name = "scheduled", schema = new { name = "_xdm.context.profile" } });
        string dataset = (string)JsonNode.Parse(await output.Content.ReadAsStringAsync())!["id"]!;
        var created = await http.PostAsJsonAsync("config/schedules", new
        {
            name = "every minute", type = "export", state = "active", schedule = "0 * * * * ?",
            properties = new { destination = new { datasetId = dataset }, schema = new { name = "_xdm.context.profile" } },
        });
        var schedule = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        string id = (string)schedule["id"]!;
        var first = DateTimeOffset.Parse((string)schedule["nextRunTime"]!, CultureInfo.InvariantCulture);
        Console.WriteLine($"schedule {id} created at {DateTimeOffset.UtcNow:HH:mm:ss.fff}, first due {first:HH:mm:ss}");

        var seen = new Dictionary<long, (string LastRun, long Created)>();
        // Up to 20 s past the last due time checked, before the next one comes.
        var end = first.AddMinutes(minutes - 1).AddSeconds(20);
        while (DateTimeOffset.UtcNow < end)
        {
            var read = JsonNode.Parse(await http.GetStringAsync($"config/schedules/{id}"))!;
            if (read["lastJobId"] is { } jobId && !seen.ContainsKey((long)jobId))
            {
                var job = JsonNode.Parse(await http.GetStringAsync($"export/jobs/{(long)jobId}"))!;
                seen[(long)jobId] = ((string)read["lastRunTime"]!, (long)job["creationTime"]!);
            }
            await Task.Delay(250);
        }

        int failures = 0;
        for (int i = 0; i < minutes; i++)
        {
            var due = first.AddMinutes(i);
            string dueText = due.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
            var jobs = seen.Where(s => s.Value.LastRun == dueText).ToList();
            if (jobs.Count != 1)
            {
                Console.WriteLine($"due {due:HH:mm:ss}: {jobs.Count} jobs with lastRunTime {dueText}");
                failures++;
                continue;
            }
            double late = (DateTimeOffset.FromUnixTimeMilliseconds(jobs[0].Value.Created) - due).TotalSeconds;
            bool onTime = late is >= 0 and <= 2;
            if (!onTime) failures++;
            Console.WriteLine($"due {due:HH:mm:ss}: job {jobs[0].Key} created {late:0.000} s after, lastRunTime {jobs[0].Value.LastRun}{(onTime ? "" : " LATE")}");
        }
        Console.WriteLine($"{minutes - failures} of {minutes} due times ran once, within 2 s, with lastRunTime equal to the due time; {seen.Count} jobs in all");
        return failures == 0 && seen.Count == minutes ? 0 : 1;
    }
}
