namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// Row groups of fragment files, each by its file's name and its place in the file. Files are immutable, so a row group
/// found to hold only moved identities once holds only them for as long as its file exists. Safe to add to from the
/// reads of several files at once.
/// </summary>
internal sealed class RowGroupSet
{
    private readonly HashSet<(string File, int Group)> _groups = [];
    private readonly Lock _lock = new();

    public int Count
    {
        get
        {
            lock (_lock) return _groups.Count;
        }
    }

    public void Add(string file, int group)
    {
        lock (_lock) _groups.Add((file, group));
    }

    public bool Contains(string file, int group)
    {
        lock (_lock) return _groups.Contains((file, group));
    }

    /// <summary>Each file's name once, then its groups' places.</summary>
    public void Write(BinaryWriter writer)
    {
        lock (_lock)
        {
            var byFile = _groups.GroupBy(g => g.File, g => g.Group).OrderBy(f => f.Key, StringComparer.Ordinal).ToList();
            writer.Write(byFile.Count);
            foreach (var file in byFile)
            {
                writer.Write(file.Key);
                writer.Write(file.Count());
                foreach (int group in file.Order()) writer.Write(group);
            }
        }
    }

    public static RowGroupSet Read(BinaryReader reader)
    {
        var set = new RowGroupSet();
        for (int files = reader.ReadInt32(); files > 0; files--)
        {
            string file = reader.ReadString();
            for (int groups = reader.ReadInt32(); groups > 0; groups--) set._groups.Add((file, reader.ReadInt32()));
        }
        return set;
    }
}
