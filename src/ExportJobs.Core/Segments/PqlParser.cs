namespace ExportJobs.Core.Segments;

/// <summary>
/// A recursive-descent parser of PQL. Precedence, loosest first: <c>or</c>; <c>and</c>; <c>not</c> (or <c>!</c>); a
/// comparison, <c>like</c>, <c>in</c>, <c>notIn</c> or <c>occurs</c>; <c>+ -</c>; <c>* / %</c>; postfix <c>.member</c>,
/// <c>.method(…)</c> and <c>[condition]</c> on a primary. A leading <c>(Name) =&gt;</c> names the profile for the rest.
/// Keywords are case-insensitive. Throws <see cref="PqlException"/> with the position of the first token it cannot take.
/// </summary>
public sealed class PqlParser
{
    public const int MaxLength = 16_384;
    private const int MaxDepth = 64;
    private static readonly string[] Comparisons = ["=", "!=", "<", "<=", ">", ">="];
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
        { "and", "or", "not", "like", "occurs", "select", "exists", "forall", "from", "where", "true", "false" };
    public static readonly IReadOnlySet<string> Units = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "millisecond", "milliseconds", "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks", "month", "months",
        "year", "years", "decade", "decades", "century", "centuries", "millennium", "millennia",
    };

    /// <summary>A time unit's one name: singular, lower case.</summary>
    private static string Unit(string text) => text.ToLowerInvariant() switch
    {
        "centuries" => "century",
        "millennia" => "millennium",
        var unit => unit.TrimEnd('s'),
    };

    private const string UnitsExpected = "a time unit (milliseconds, seconds, minutes, hours, days, weeks, months, years, decades, centuries, millennia)";

    private readonly List<PqlToken> _tokens;
    private int _next;
    private int _depth;

    private PqlParser(List<PqlToken> tokens) => _tokens = tokens;

    public static PqlNode Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new PqlException(0, "the expression is empty.");
        if (text.Length > MaxLength) throw new PqlException(MaxLength, $"the expression is longer than {MaxLength} characters.");
        var parser = new PqlParser(PqlLexer.Tokenize(text));
        var node = parser.Lambda() ?? parser.Or();
        if (parser.Peek.Kind != PqlTokenKind.End) throw parser.Unexpected("an operator or the end of the expression");
        return node;
    }

    /// <summary>The lambda notation, <c>(Profile) => Profile.homeAddress…</c>: the name stands for the profile in the body.</summary>
    private PqlLambda? Lambda()
    {
        if (!(Peek.Is("(") && PeekAt(1).Kind == PqlTokenKind.Identifier && PeekAt(2).Is(")") && PeekAt(3).Is("=>"))) return null;
        Take();
        var name = Take();
        Take();
        Take();
        return new PqlLambda(name.Text, Or(), name.Position);
    }

    private PqlToken Peek => _tokens[_next];
    private PqlToken PeekAt(int ahead) => _tokens[Math.Min(_next + ahead, _tokens.Count - 1)];
    private PqlToken Take() => _tokens[_next++];

    private PqlException Unexpected(string expected) => new(Peek.Position, $"expected {expected}, found {Peek.Describe()}.");

    private PqlToken Expect(string symbol)
    {
        if (!Peek.Is(symbol)) throw Unexpected($"'{symbol}'");
        return Take();
    }

    private PqlToken ExpectKeyword(string keyword)
    {
        if (!Peek.IsKeyword(keyword)) throw Unexpected($"'{keyword}'");
        return Take();
    }

    private PqlNode Or()
    {
        var left = And();
        while (Peek.IsKeyword("or"))
        {
            var op = Take();
            left = new PqlBinary("or", left, And(), op.Position);
        }
        return left;
    }

    private PqlNode And()
    {
        var left = Not();
        while (Peek.IsKeyword("and"))
        {
            var op = Take();
            left = new PqlBinary("and", left, Not(), op.Position);
        }
        return left;
    }

    private PqlNode Not()
    {
        if (!Peek.IsKeyword("not") && !Peek.Is("!")) return Comparison();
        var op = Take();
        Enter(op);
        var operand = Not();
        _depth--;
        return new PqlNot(operand, op.Position);
    }

    private PqlNode Comparison()
    {
        var left = Additive();
        if (Peek.Kind == PqlTokenKind.Symbol && Comparisons.Contains(Peek.Text))
        {
            var op = Take();
            return new PqlBinary(op.Text, left, Additive(), op.Position);
        }
        if (Peek.IsKeyword("like"))
        {
            var op = Take();
            return new PqlBinary("like", left, Postfix(), op.Position);
        }
        if (Peek.IsKeyword("occurs")) return Occurs(left, Take());
        // The documented infix forms of membership: `x in [1, 2]`, `x notIn [1, 2]`, the same as `x.in([1, 2])`.
        if (Peek.IsKeyword("in") || Peek.IsKeyword("notIn"))
        {
            var op = Take();
            return new PqlCall(left, op.IsKeyword("in") ? "in" : "notIn", [Postfix()], op.Position);
        }
        return left;
    }

    /// <summary>Arithmetic: <c>+ -</c> over <c>* / %</c>, left to right.</summary>
    private PqlNode Additive()
    {
        var left = Multiplicative();
        while (Peek.Kind == PqlTokenKind.Symbol && (Peek.Is("+") || Peek.Is("-")))
        {
            var op = Take();
            left = new PqlBinary(op.Text, left, Multiplicative(), op.Position);
        }
        return left;
    }

    private PqlNode Multiplicative()
    {
        var left = Postfix();
        while (Peek.Kind == PqlTokenKind.Symbol && (Peek.Is("*") || Peek.Is("/") || Peek.Is("%")))
        {
            var op = Take();
            left = new PqlBinary(op.Text, left, Postfix(), op.Position);
        }
        return left;
    }

    private PqlOccurs Occurs(PqlNode time, PqlToken occurs)
    {
        if (Peek.IsKeyword("between"))
        {
            Take();
            var from = Postfix();
            ExpectKeyword("and");
            return new PqlOccurs(time, OccursForm.Between, null, 0, null, false, from, Postfix(), occurs.Position);
        }
        if (Peek.IsKeyword("on"))
        {
            Take();
            return new PqlOccurs(time, OccursForm.On, null, 0, null, false, Postfix(), null, occurs.Position);
        }
        if (Peek.IsKeyword("today") || Peek.IsKeyword("yesterday") || Peek.IsKeyword("tomorrow"))
        {
            var day = Take();
            var form = day.IsKeyword("today") ? OccursForm.Today : day.IsKeyword("yesterday") ? OccursForm.Yesterday : OccursForm.Tomorrow;
            return new PqlOccurs(time, form, null, 0, null, false, null, null, occurs.Position);
        }
        // A calendar period: `occurs last week`, `occurs this month`, `occurs next year` (Amount: -1, 0, 1).
        if (Peek.IsKeyword("last") || Peek.IsKeyword("this") || Peek.IsKeyword("next"))
        {
            var which = Take();
            if (!(Peek.Kind == PqlTokenKind.Identifier && Units.Contains(Peek.Text))) throw Unexpected(UnitsExpected);
            string period = Unit(Take().Text);
            return new PqlOccurs(time, OccursForm.Calendar, null, which.IsKeyword("last") ? -1 : which.IsKeyword("this") ? 0 : 1, period, false, null, null, occurs.Position);
        }

        // `occurs before today`, `occurs after X.timestamp`, `occurs from date(…)`: a side of a time.
        if (Peek.IsKeyword("before") || Peek.IsKeyword("after") || Peek.IsKeyword("from"))
        {
            var direction = Take();
            string side = direction.IsKeyword("before") ? "<" : direction.IsKeyword("after") ? ">" : ">=";
            return new PqlOccurs(time, OccursForm.Direction, side, 0, null, false, Postfix(), null, occurs.Position);
        }

        string comparison = "<=";
        if (Peek.Kind == PqlTokenKind.Symbol && Comparisons.Contains(Peek.Text))
        {
            comparison = Take().Text;
        }
        if (Peek.Kind != PqlTokenKind.Integer) throw Unexpected("a whole number of time units after 'occurs'");
        long amount = (long)Take().Value!;
        if (!(Peek.Kind == PqlTokenKind.Identifier && Units.Contains(Peek.Text))) throw Unexpected(UnitsExpected);
        string unit = Unit(Take().Text);
        bool after;
        if (Peek.IsKeyword("before")) after = false;
        else if (Peek.IsKeyword("after")) after = true;
        else throw Unexpected("'before' or 'after'");
        Take();
        return new PqlOccurs(time, OccursForm.Relative, comparison, amount, unit, after, Postfix(), null, occurs.Position);
    }

    private PqlNode Postfix()
    {
        var node = Primary();
        while (true)
        {
            if (Peek.Is("."))
            {
                Take();
                if (Peek.Kind != PqlTokenKind.Identifier) throw Unexpected("a name after '.'");
                var name = Take();
                node = Peek.Is("(") ? new PqlCall(node, name.Text, Arguments(), name.Position) : new PqlMember(node, name.Text, name.Position);
            }
            else if (Peek.Is("["))
            {
                var open = Take();
                Enter(open);
                var condition = Or();
                _depth--;
                Expect("]");
                node = new PqlFilter(node, condition, open.Position);
            }
            else return node;
        }
    }

    private List<PqlNode> Arguments()
    {
        var open = Expect("(");
        Enter(open);
        var arguments = new List<PqlNode>();
        if (!Peek.Is(")"))
        {
            do arguments.Add(Or());
            while (Peek.Is(",") && Take().Is(","));
        }
        _depth--;
        Expect(")");
        return arguments;
    }

    private PqlNode Primary()
    {
        var token = Peek;
        switch (token.Kind)
        {
            case PqlTokenKind.String:
                Take();
                return new PqlLiteral(token.Value!, token.Position);
            case PqlTokenKind.Integer:
                Take();
                return new PqlLiteral((double)(long)token.Value!, token.Position);
            case PqlTokenKind.Double:
                Take();
                return new PqlLiteral(token.Value!, token.Position);
            case PqlTokenKind.Variable:
                Take();
                return new PqlName(token.Text, token.Position);
            case PqlTokenKind.Symbol when token.Is("-") && PeekAt(1).Kind is PqlTokenKind.Integer or PqlTokenKind.Double && PeekAt(1).Position == token.Position + 1:
                Take();
                var number = Take();
                return new PqlLiteral(-Convert.ToDouble(number.Value, System.Globalization.CultureInfo.InvariantCulture), token.Position);
            case PqlTokenKind.Symbol when token.Is("("):
                Take();
                Enter(token);
                var inner = Or();
                _depth--;
                Expect(")");
                return inner;
            case PqlTokenKind.Symbol when token.Is("["):
                Take();
                Enter(token);
                var items = new List<PqlNode>();
                if (!Peek.Is("]"))
                {
                    do items.Add(Or());
                    while (Peek.Is(",") && Take().Is(","));
                }
                _depth--;
                Expect("]");
                return new PqlListLiteral(items, token.Position);
            case PqlTokenKind.Identifier:
                if (token.IsKeyword("true") || token.IsKeyword("false"))
                {
                    Take();
                    return new PqlLiteral(token.IsKeyword("true"), token.Position);
                }
                if (token.IsKeyword("select") || token.IsKeyword("exists") || token.IsKeyword("forall")) return Quantifier();
                if (token.IsKeyword("let") && PeekAt(1).Kind == PqlTokenKind.Identifier)
                    throw new PqlException(token.Position, "let … in … is not supported: write the expression where the variable is used.");
                if (token.IsKeyword("null"))
                    throw new PqlException(token.Position, "the null literal is not supported: test for a missing value with isNull() or isNotNull().");
                if (Reserved.Contains(token.Text)) throw Unexpected("a value");
                Take();
                return Peek.Is("(") ? new PqlCall(null, token.Text, Arguments(), token.Position) : new PqlName(token.Text, token.Position);
            default:
                throw Unexpected("a value");
        }
    }

    /// <summary>
    /// <c>exists X from list [where|: condition]</c>, <c>forall …</c>, <c>select …</c>. As documented, more bindings may
    /// follow, each after a comma (<c>exists E from xEvent where …, I from E.productListItems where I.SKU = "PS"</c>): each
    /// is a quantifier of the same kind inside the one before, joined to its condition with <c>and</c>.
    /// </summary>
    private PqlQuantifier Quantifier() => Binding(Take());

    private PqlQuantifier Binding(PqlToken keyword)
    {
        if (Peek.Kind != PqlTokenKind.Identifier || Reserved.Contains(Peek.Text)) throw Unexpected("a variable name");
        var variable = Take();
        ExpectKeyword("from");
        Enter(keyword);
        var source = Postfix();
        PqlNode? condition = null;
        if (Peek.IsKeyword("where") || Peek.Is(":"))
        {
            Take();
            condition = Or();
        }
        if (!keyword.IsKeyword("select") && Peek.Is(",") && PeekAt(1).Kind == PqlTokenKind.Identifier && PeekAt(2).IsKeyword("from"))
        {
            var comma = Take();
            var inner = Binding(new PqlToken(keyword.Kind, keyword.Text, comma.Position));
            condition = condition is null ? inner : new PqlBinary("and", condition, inner, comma.Position);
        }
        _depth--;
        if (keyword.IsKeyword("forall") && condition is null) throw Unexpected("'where' and the condition every element must meet");
        return new PqlQuantifier(keyword.Text.ToLowerInvariant(), variable.Text, source, condition, keyword.Position);
    }

    private void Enter(PqlToken at)
    {
        if (++_depth > MaxDepth) throw new PqlException(at.Position, $"the expression nests deeper than {MaxDepth} levels.");
    }
}
