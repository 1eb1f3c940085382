using ExportJobs.Core.Datasets;
using ExportJobs.Core.Schemas;

namespace ExportJobs.Core.Segments;

/// <summary>What a segment definition must be: a name, the profile schema, and a PQL expression that compiles.</summary>
public static class SegmentDefinitionRules
{
    public const string ProfileSchema = "_xdm.context.profile";
    public const string ExpressionType = "PQL";
    public const string ExpressionFormat = "pql/text";
    private const int MaxName = 256, MaxDescription = 4_096;

    /// <summary>
    /// Checks a new definition (<paramref name="patch"/> false: name, expression and schema required) or a patch (only
    /// the members given). The expression is compiled; <paramref name="knownPath"/> says which attribute paths exist.
    /// </summary>
    public static ProblemList Check(SegmentDefinitionRequest body, bool patch, Func<PqlPath, bool>? knownPath)
    {
        var problems = new ProblemList();
        if (body.Name is null ? !patch : string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > MaxName)
            problems.Add("name", $"name is required: 1 to {MaxName} characters.");
        if (body.Description is { Length: > MaxDescription })
            problems.Add("description", $"description is at most {MaxDescription} characters.");
        if (body.Schema is null ? !patch : body.Schema.Name != ProfileSchema)
            problems.Add("schema.name", $"schema.name is required and is \"{ProfileSchema}\".");
        if (body.MergePolicyId is { } policy && !Ids.IsMergePolicyId(policy))
            problems.Add("mergePolicyId", "mergePolicyId has characters outside [A-Za-z0-9._-] or is longer than 128.");
        if (body.Expression is null)
        {
            if (!patch) problems.Add("expression", "expression is required: {\"type\": \"PQL\", \"format\": \"pql/text\", \"value\": \"…\"}.");
        }
        else CheckExpression(body.Expression, knownPath, problems);
        return problems;
    }

    private static void CheckExpression(SegmentExpression expression, Func<PqlPath, bool>? knownPath, ProblemList problems)
    {
        if (expression.Type != ExpressionType) problems.Add("expression.type", $"expression.type is \"{ExpressionType}\".");
        if (expression.Format != ExpressionFormat) problems.Add("expression.format", $"expression.format is \"{ExpressionFormat}\".");
        if (expression.Value is null)
        {
            problems.Add("expression.value", "expression.value is required: the PQL text.");
            return;
        }
        if (Compile(expression.Value, knownPath) is { } problem) problems.Add(problem.Field, problem.Message, problem.Position);
    }

    /// <summary>Null when the text compiles; else the problem, with its position.</summary>
    public static Problem? Compile(string text, Func<PqlPath, bool>? knownPath)
    {
        try
        {
            PqlCompiler.Compile(text, knownPath);
            return null;
        }
        catch (PqlException e)
        {
            return new Problem("expression.value", $"PQL at position {e.Position}: {e.Reason}", e.Position);
        }
    }

    /// <summary>
    /// The attribute paths the tenant's data can hold: profile paths in the union of its profile datasets' schemas, event
    /// paths in that of its event datasets. A kind of dataset without a schema accepts every path (there is nothing to check against).
    /// </summary>
    public static Func<PqlPath, bool> KnownPaths(IEnumerable<Dataset> datasets)
    {
        var (profiles, events) = ExportSchema.Of(datasets);
        return path => (path.Event ? events : profiles) is not { } schema || schema.HasPath(path.Names);
    }
}
