namespace ExportJobs.Core;

/// <summary>One thing wrong with a request: the field it concerns (a JSON path, a header or a query parameter) and why.</summary>
/// <remarks><c>Position</c>: where in the field's text the problem is (0-based), for a PQL expression.</remarks>
public sealed record Problem(string Field, string Message, int? Position = null);

/// <summary>Collects problems while a request is checked.</summary>
public sealed class ProblemList
{
    private readonly List<Problem> _problems = [];

    public IReadOnlyList<Problem> Items => _problems;
    public bool IsEmpty => _problems.Count == 0;

    public void Add(string field, string message, int? position = null) => _problems.Add(new Problem(field, message, position));
}
