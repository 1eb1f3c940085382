namespace ExportJobs.TestSupport;

/// <summary>
/// Local folders a test writes files into (downloaded batches, DuckDB's inputs), all under one folder of the test
/// process that is deleted when the process exits, so that runs of the suite leave nothing in the temporary folder.
/// </summary>
public static class TemporaryFolders
{
    private static readonly Lazy<string> Root = new(() =>
    {
        string root = Directory.CreateTempSubdirectory("exportjobs-tests-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(root, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        };
        return root;
    });

    /// <summary>A new empty folder, named by <paramref name="prefix"/> and a random suffix.</summary>
    public static string Create(string prefix) =>
        Directory.CreateDirectory(Path.Combine(Root.Value, prefix + Path.GetRandomFileName().Replace(".", ""))).FullName;
}
