using ExportJobs.LocalHost;

await LocalHostApp.Build(args).RunAsync();
