namespace ExportJobs.Core.Segments;

/// <summary>A node of a parsed PQL expression; <see cref="Position"/> is where it starts in the text.</summary>
public abstract record PqlNode(int Position);

/// <summary>A string, integer (as double), double, boolean or date literal.</summary>
public sealed record PqlLiteral(object Value, int Position) : PqlNode(Position);

public sealed record PqlListLiteral(IReadOnlyList<PqlNode> Items, int Position) : PqlNode(Position);

/// <summary>A bare name: a variable bound by <c>select/exists/forall</c>, <c>$1</c>, <c>xEvent</c>, or an attribute of the implicit object.</summary>
public sealed record PqlName(string Name, int Position) : PqlNode(Position);

public sealed record PqlMember(PqlNode Target, string Name, int Position) : PqlNode(Position);

/// <summary><c>list[condition]</c>: the elements for which the condition is true.</summary>
public sealed record PqlFilter(PqlNode Target, PqlNode Condition, int Position) : PqlNode(Position);

/// <summary>A method (<c>x.startsWith("a")</c>, with a target) or a function (<c>date(2020, 1, 1)</c>, <c>now()</c>, without).</summary>
public sealed record PqlCall(PqlNode? Target, string Name, IReadOnlyList<PqlNode> Arguments, int Position) : PqlNode(Position);

public sealed record PqlNot(PqlNode Operand, int Position) : PqlNode(Position);

/// <summary><c>and</c>, <c>or</c>, a comparison (<c>= != &lt; &lt;= &gt; &gt;=</c>) or <c>like</c>.</summary>
public sealed record PqlBinary(string Operator, PqlNode Left, PqlNode Right, int Position) : PqlNode(Position);

/// <summary><c>select X from source where condition</c>, <c>exists …</c>, <c>forall …</c> (the condition is optional).</summary>
/// <summary><c>(Name) => body</c>: the body, with <paramref name="Variable"/> standing for the profile.</summary>
public sealed record PqlLambda(string Variable, PqlNode Body, int Position) : PqlNode(Position);

public sealed record PqlQuantifier(string Kind, string Variable, PqlNode Source, PqlNode? Condition, int Position) : PqlNode(Position);

public enum OccursForm { Relative, Between, On, Today, Yesterday, Tomorrow, Calendar, Direction }

/// <summary>
/// <c>t occurs &lt;= 7 days before now</c> (Relative), <c>t occurs between a and b</c>, <c>t occurs on d</c>,
/// <c>t occurs today</c>, <c>t occurs yesterday</c>.
/// </summary>
public sealed record PqlOccurs(
    PqlNode Time, OccursForm Form, string? Comparison, long Amount, string? Unit, bool After, PqlNode? Reference, PqlNode? Until, int Position)
    : PqlNode(Position);
