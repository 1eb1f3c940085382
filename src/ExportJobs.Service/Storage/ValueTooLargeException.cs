namespace ExportJobs.Service.Storage;

/// <summary>A record larger than its store keeps (a Table string property holds 64 KiB); answered as a 400 naming <see cref="Field"/>.</summary>
public sealed class ValueTooLargeException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}
