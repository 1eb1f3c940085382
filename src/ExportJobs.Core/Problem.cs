namespace ExportJobs.Core;

/// <summary>One thing wrong with a request: the field it concerns (a JSON path, a header or a query parameter) and why.</summary>
public sealed record Problem(string Field, string Message);

/// <summary>Collects problems while a request is checked.</summary>
public sealed class ProblemList
{
    private readonly List<Problem> _problems = [];

    public IReadOnlyList<Problem> Items => _problems;
    public bool IsEmpty => _problems.Count == 0;

    public void Add(string field, string message) => _problems.Add(new Problem(field, message));
}
