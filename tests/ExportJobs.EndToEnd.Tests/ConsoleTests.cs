using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace ExportJobs.EndToEnd.Tests;

/// <summary>
/// The operations console in a real browser: Debian's Chromium driven by Playwright, against the LocalHost on Azurite.
/// Each test signs in with the development sign-in; every page it visits is checked by axe (no serious or critical
/// accessibility violation) and saved as a screenshot in artifacts/console/.
/// </summary>
[Collection(LocalHostCollection.Name)]
public class ConsoleTests(LocalHostFixture host) : IAsyncLifetime
{
    private static readonly float Timeout = 60_000;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            // Chromium's own background traffic is refused by this machine's closed network: none is started.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    private string Root => host.BaseAddress.GetLeftPart(UriPartial.Authority);

    private static readonly string Screenshots = Path.Combine(RepositoryRoot(), "artifacts", "console");

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "ExportFunctions.sln"))) folder = folder.Parent;
        return folder?.FullName ?? AppContext.BaseDirectory;
    }

    /// <summary>A page of the console, signed in with the development sign-in to a sandbox of the test organisation.</summary>
    private async Task<IPage> SignedInAsync(string sandbox, int width = 1280)
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = Root, ViewportSize = new ViewportSize { Width = width, Height = 900 } });
        page.SetDefaultTimeout(Timeout);
        await page.GotoAsync("/console");
        await page.GetByLabel("Organisation", new() { Exact = true }).FillAsync(LocalHostFixture.Org);
        await page.GetByLabel("Sandbox", new() { Exact = true }).FillAsync(sandbox);
        await page.GetByRole(AriaRole.Button, new() { Name = "Use" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Development sign-in" }).ClickAsync();
        await Assertions.Expect(page.Locator("#jobs")).ToBeVisibleAsync();
        return page;
    }

    /// <summary>Opens a page of the console afresh (a reload: the credentials stay in the tab's session storage).</summary>
    private static async Task OpenAsync(IPage page, string hash)
    {
        await page.GotoAsync("/console" + hash);
        await page.ReloadAsync();
    }

    /// <summary>Checks the page with axe and saves its screenshot.</summary>
    private static async Task CheckAndSaveAsync(IPage page, string name)
    {
        var result = await page.RunAxe();
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"{name}: " + string.Join("; ", serious.Select(v => $"{v.Id}: {v.Help} ({string.Join(", ", v.Nodes.Select(n => n.Html))})")));
        Directory.CreateDirectory(Screenshots);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });
    }

    private async Task<(HttpClient Client, string Profiles, string Output)> DataAsync(string sandbox, int people)
    {
        var client = host.Client(sandbox);
        string profiles = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: true);
        string output = await LocalHostFixture.CreateDatasetAsync(client, profileEnabled: false);
        var lines = Enumerable.Range(0, people).Select(i => new JsonObject
        {
            ["identityMap"] = new JsonObject { ["email"] = new JsonArray(new JsonObject { ["id"] = $"c{i}@example.com", ["primary"] = true }) },
            ["personalEmail"] = new JsonObject { ["address"] = $"c{i}@example.com" },
            ["loyalty"] = new JsonObject { ["points"] = i, ["tier"] = i % 3 == 0 ? "gold" : "silver" },
        }.ToJsonString()).ToList();
        lines.Insert(1, "not json");
        await LocalHostFixture.PostLinesAsync(client, profiles, lines, gzip: false);
        return (client, profiles, output);
    }

    private static async Task<long> CreateJobAsync(HttpClient client, string output, string fields = "personalEmail.address,loyalty") =>
        (long)(await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("export/jobs", new
        {
            fields, destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" },
        }), HttpStatusCode.OK))["id"]!;

    [Fact]
    public async Task A_job_created_through_the_API_is_watched_to_100_percent_opened_and_its_files_downloaded()
    {
        var (client, _, output) = await DataAsync("console-jobs", 300);
        var page = await SignedInAsync("console-jobs");
        long id = await CreateJobAsync(client, output);
        await OpenAsync(page, "#/jobs");
        var progress = page.Locator($"tr[data-job-id='{id}'] progress");
        await Assertions.Expect(progress).ToHaveAttributeAsync("data-percent", "100");
        await CheckAndSaveAsync(page, "jobs");

        await page.GetByRole(AriaRole.Link, new() { Name = $"Job {id}", Exact = true }).ClickAsync();
        await Assertions.Expect(page.Locator("#job-status")).ToHaveTextAsync("SUCCEEDED");
        await Assertions.Expect(page.Locator("#files tr[data-file='manifest.json']")).ToBeVisibleAsync();
        Assert.True(await page.Locator("#files tr[data-file$='.parquet']").CountAsync() > 0);
        Assert.True(await page.Locator("figure svg rect").CountAsync() > 0, "the shards chart has no bar");
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Download manifest.json" }).ClickAsync());
        Assert.Equal("manifest.json", download.SuggestedFilename);
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync((await download.PathAsync())!))!;
        Assert.Equal(id, (long)manifest["jobId"]!);
        Assert.Equal(300, (long)manifest["totalRows"]!);
        await CheckAndSaveAsync(page, "job");

        // The credentials live in this tab's session storage only, and sign-out removes them.
        Assert.Equal(0, await page.EvaluateAsync<int>("localStorage.length"));
        Assert.Empty(await page.Context.CookiesAsync());
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('token')"));
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_running_job_is_cancelled_from_the_console_after_a_confirmation()
    {
        // Enough profiles, all fields, that the job is still running when the console cancels it.
        var (client, _, output) = await DataAsync("console-cancel", 60_000);
        var page = await SignedInAsync("console-cancel");
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        long id = await CreateJobAsync(client, output, fields: "");
        await OpenAsync(page, "#/jobs");
        await page.GetByRole(AriaRole.Button, new() { Name = $"Cancel job {id}" }).ClickAsync(new() { Timeout = 10_000 });
        var job = await LocalHostFixture.WaitForJobAsync(client, id, s => s is "SUCCEEDED" or "FAILED" or "CANCELLED");
        Assert.Equal("CANCELLED", (string)job["status"]!);
        await Assertions.Expect(page.Locator($"tr[data-job-id='{id}'] td.status-CANCELLED")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task A_PQL_mistake_is_shown_at_its_position_and_a_good_definition_is_created()
    {
        var page = await SignedInAsync("console-segments");
        await OpenAsync(page, "#/segments");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("bad one");
        await page.GetByLabel("PQL expression").FillAsync("person.name.firstName like");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("position 26");
        await Assertions.Expect(page.Locator("#pql-at mark")).ToHaveAttributeAsync("data-position", "26");
        Assert.Equal(26, await page.GetByLabel("PQL expression").EvaluateAsync<int>("e => e.selectionStart"));
        await CheckAndSaveAsync(page, "segment-error");

        await page.GetByLabel("PQL expression").FillAsync("loyalty.tier = \"gold\"");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("gold members");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "gold members" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("pre")).ToHaveTextAsync("loyalty.tier = \"gold\"");
        await CheckAndSaveAsync(page, "segment");
        await OpenAsync(page, "#/segments");
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "gold members" })).ToBeVisibleAsync();
        await CheckAndSaveAsync(page, "segments");
    }

    [Fact]
    public async Task Schedules_are_activated_and_datasets_show_their_batches_and_rejected_lines_on_a_narrow_screen()
    {
        var (client, profiles, output) = await DataAsync("console-config", 20);
        var schedule = await LocalHostFixture.ReadAsync(await client.PostAsJsonAsync("config/schedules", new
        {
            name = "nightly", type = "export", state = "inactive", schedule = "0 0 1 * * ?",
            properties = new { destination = new { datasetId = output }, schema = new { name = "_xdm.context.profile" } },
        }), HttpStatusCode.OK);
        var page = await SignedInAsync("console-config", width: 375);
        await OpenAsync(page, "#/schedules");
        await page.GetByRole(AriaRole.Button, new() { Name = "Activate nightly" }).First.ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Deactivate nightly" }).First).ToBeVisibleAsync();
        var read = await LocalHostFixture.ReadAsync(await client.GetAsync($"config/schedules/{schedule["id"]}"), HttpStatusCode.OK);
        Assert.Equal("active", (string)read["state"]!);
        Assert.NotNull((string?)read["nextRunTime"]);
        await CheckAndSaveAsync(page, "schedules");

        await OpenAsync(page, "#/datasets");
        await page.GetByRole(AriaRole.Link, new() { Name = "ds" }).First.WaitForAsync();
        await CheckAndSaveAsync(page, "datasets");
        await OpenAsync(page, $"#/datasets/{profiles}");
        var batch = page.Locator("tr[data-batch-id]").First;
        await Assertions.Expect(batch.Locator("td.num").Nth(0)).ToHaveTextAsync("20");
        await Assertions.Expect(batch.Locator("td.num").Nth(1)).ToHaveTextAsync("1");
        await page.Locator("details.rejected summary").First.ClickAsync();
        await Assertions.Expect(page.Locator("details.rejected li").First).ToContainTextAsync("line 2");
        // Nothing wider than the screen but the tables, which scroll in their own box.
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));
        await CheckAndSaveAsync(page, "dataset");
    }
}
