using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Segments;

/// <summary>
/// What one evaluation sees: the merged profile, its experience events, the time that <c>now</c> means, and the
/// variables. The profile and events are read through their documents (which must outlive the evaluation), never built
/// as nodes.
/// </summary>
public sealed class PqlContext(MergedValue profile, IReadOnlyList<MergedValue> events, DateTimeOffset now, int slots)
{
    /// <summary>The profile as a PQL object value, boxed once for every use.</summary>
    public object Profile { get; } = profile;
    public DateTimeOffset Now { get; } = now;
    public object?[] Slots { get; } = new object?[slots];
    public List<object?> Events => field ??= events.Select(e => (object?)e).ToList();

    /// <summary>
    /// The work this evaluation did, in units: one per element a quantifier visited, one per character a pattern
    /// scanned. What a job's evaluation budget counts (see <see cref="SegmentEvaluation"/>).
    /// </summary>
    public long Work { get; internal set; }
}

/// <summary>A path the compiler can check against a schema: from the profile or from an event, member names in order.</summary>
public readonly record struct PqlPath(bool Event, ImmutableList<string> Names)
{
    public PqlPath With(string name) => this with { Names = Names.Add(name) };
    public override string ToString() => (Event ? "xEvent." : "") + string.Join('.', Names);
}

/// <summary>A condition compiled once into delegates; evaluating it never re-reads the text.</summary>
public sealed class CompiledPql
{
    internal CompiledPql(Func<PqlContext, object?> root, int slots, bool usesEvents, IReadOnlySet<string>? profileMembers, IReadOnlySet<string>? eventMembers)
    {
        Root = root;
        Slots = slots;
        UsesEvents = usesEvents;
        ProfileMembers = profileMembers;
        EventMembers = eventMembers;
    }

    internal Func<PqlContext, object?> Root { get; }
    /// <summary>How many variables the condition binds: the size of the <see cref="PqlContext"/> it needs.</summary>
    public int Slots { get; }

    /// <summary>Whether the condition reads <c>xEvent</c>, so evaluation needs the profile's events.</summary>
    public bool UsesEvents { get; }

    /// <summary>
    /// The top-level members of the profile the condition reads, or null when it reads the profile whole (<c>$1</c>, or
    /// a lambda's variable, used other than for a member): a profile without its other members evaluates the same.
    /// </summary>
    public IReadOnlySet<string>? ProfileMembers { get; }

    /// <summary>
    /// The top-level members of the events (<c>xEvent</c>) the condition reads, or null when it uses an event whole (an
    /// event, or the list, used other than for a member, a count, or the source of <c>exists</c>/<c>forall</c>).
    /// </summary>
    public IReadOnlySet<string>? EventMembers { get; }

    /// <summary>True, false, or null when the condition is unknown (a missing attribute, a type that does not compare).</summary>
    public bool? Evaluate(MergedValue profile, IReadOnlyList<MergedValue> events, DateTimeOffset now) =>
        Evaluate(new PqlContext(profile, events, now, Slots));

    /// <summary>As <see cref="Evaluate(MergedValue, IReadOnlyList{MergedValue}, DateTimeOffset)"/>, over a profile and events built as nodes.</summary>
    public bool? Evaluate(JsonObject profile, IReadOnlyList<JsonObject> events, DateTimeOffset now) =>
        Evaluate(MergedValue.Of(profile), Values(events), now);

    /// <summary>Evaluates in a context that several conditions share (one per profile); it needs at least <see cref="Slots"/> slots.</summary>
    public bool? Evaluate(PqlContext context) => PqlValues.AsCondition(Root(context));

    /// <summary>
    /// What the expression computes for the profile — a number, string, date, list, object (as nodes), condition, or
    /// null — for an expression compiled with <see cref="PqlCompiler.CompileValue"/> (a segment is a condition; PQL's
    /// other expressions, <c>orders.sum(order.price)</c>, compute values).
    /// </summary>
    public object? Value(JsonObject profile, IReadOnlyList<JsonObject> events, DateTimeOffset now) =>
        PqlValues.Detached(Root(new PqlContext(MergedValue.Of(profile), Values(events), now, Slots)));

    private static List<MergedValue> Values(IReadOnlyList<JsonObject> nodes) => nodes.Select(node => MergedValue.Of(node)).ToList();

    /// <summary>Whether a profile qualifies: only a condition that is true.</summary>
    public bool Qualifies(MergedValue profile, IReadOnlyList<MergedValue> events, DateTimeOffset now) => Evaluate(profile, events, now) == true;
}

/// <summary>
/// Turns a parsed PQL expression into a <see cref="CompiledPql"/>, checking what can be checked before any profile is
/// seen: functions and their arguments, conditions where a condition is needed, comparisons of literals, regular
/// expressions, and (when <c>knownPath</c> is given) that every attribute path names something the schema holds.
/// </summary>
public sealed class PqlCompiler
{
    public const string EventsName = "xEvent";
    /// <summary>
    /// A backstop only: the engine is linear in the text, and the evaluation's work budget counts every scan. At 50 ms a
    /// pattern's first match on a busy host (its engine compiled then, or a GC pause) ran out and made a condition unknown.
    /// </summary>
    public static readonly TimeSpan RegexTimeLimit = TimeSpan.FromSeconds(1);

    private enum Kind { Any, Condition, Number, Text, Date, List }

    private sealed record Compiled(Func<PqlContext, object?> Eval, Kind Kind, PqlPath? Path = null);

    private readonly record struct Binding(int Slot, PqlPath? Path);

    /// <summary>
    /// What names mean where a node is compiled: the variables bound by enclosing quantifiers, the element <c>$1</c> names,
    /// and the implicit object bare names are members of (the element inside <c>[ ]</c>; otherwise, and in a where clause, the profile).
    /// </summary>
    private sealed record Scope(ImmutableDictionary<string, Binding> Variables, Binding? Element, Binding? Implicit)
    {
        public static readonly Scope Top = new(ImmutableDictionary<string, Binding>.Empty, null, null);
    }

    private static readonly string[] CaseFlagMethods =
        ["startsWith", "doesNotStartWith", "endsWith", "doesNotEndWith", "contains", "doesNotContain", "equals", "notEqualTo", "like", "matches"];
    private static readonly string[] Methods =
    [
        .. CaseFlagMethods, "regexGroup", "isNull", "isNotNull", "in", "notIn", "includes", "intersects", "intersection", "subsetOf", "supersetOf",
        "distinct", "head", "topN", "bottomN", "count", "sum", "avg", "average", "min", "max", "getYear", "getMonth", "getDayOfMonth",
        "get", "keys", "values",
    ];

    private readonly Func<PqlPath, bool>? _knownPath;
    private int _slots;
    private bool _usesEvents;
    /// <summary>The top-level members read, of the profile and of events (by <see cref="PqlPath.Event"/>).</summary>
    private readonly HashSet<string> _profileMembers = new(StringComparer.Ordinal), _eventMembers = new(StringComparer.Ordinal);
    /// <summary>
    /// Uses of the profile, or of an event or the event list, itself (a path with no member), less those consumed by
    /// what reads no member but its own (<c>$1.name</c>, <c>xEvent.count()</c>, <c>exists X from xEvent</c>, whose
    /// <c>X</c> is counted where it is used).
    /// </summary>
    private int _wholeProfileUses, _wholeEventUses;

    private PqlCompiler(Func<PqlPath, bool>? knownPath) => _knownPath = knownPath;

    /// <summary>Parses and compiles; throws <see cref="PqlException"/> with the position and reason of the first problem.</summary>
    public static CompiledPql Compile(string text, Func<PqlPath, bool>? knownPath = null)
    {
        var compiler = new PqlCompiler(knownPath);
        var root = compiler.Condition(PqlParser.Parse(text), Scope.Top, "the expression");
        return compiler.Result(root);
    }

    /// <summary>An expression of any kind, not only a condition (read with <see cref="CompiledPql.Value"/>).</summary>
    public static CompiledPql CompileValue(string text)
    {
        var compiler = new PqlCompiler(null);
        var root = compiler.Compile(PqlParser.Parse(text), Scope.Top).Eval;
        return compiler.Result(root);
    }

    private CompiledPql Result(Func<PqlContext, object?> root) =>
        new(root, _slots, _usesEvents, _wholeProfileUses > 0 ? null : _profileMembers.ToFrozenSet(StringComparer.Ordinal),
            _wholeEventUses > 0 ? null : _eventMembers.ToFrozenSet(StringComparer.Ordinal));

    private Func<PqlContext, object?> Condition(PqlNode node, Scope scope, string what)
    {
        var compiled = Compile(node, scope);
        if (compiled.Kind is not (Kind.Condition or Kind.Any)) throw new PqlException(node.Position, $"{what} must be a condition, not {Describe(compiled.Kind)}.");
        return compiled.Eval;
    }

    private Compiled Compile(PqlNode node, Scope scope) => node switch
    {
        PqlLiteral literal => Literal(literal.Value),
        PqlListLiteral list => ListLiteral(list, scope),
        PqlName name => Name(name, scope),
        PqlMember member => Member(member, scope),
        PqlFilter filter => Filter(filter, scope),
        PqlCall { Target: null, Name: "if" } call => If(call, scope),
        PqlCall { Target: null } call => Function(call),
        PqlCall call => Method(call, scope),
        PqlNot not => Not(not, scope),
        PqlBinary binary => binary.Operator switch
        {
            "and" or "or" => Logic(binary, scope),
            "like" => Like(binary.Left, binary.Right, null, binary.Position, scope),
            "+" or "-" or "*" or "/" or "%" => Arithmetic(binary, scope),
            _ => Comparison(binary, scope),
        },
        PqlQuantifier quantifier => Quantifier(quantifier, scope),
        PqlLambda lambda => Lambda(lambda, scope),
        PqlOccurs occurs => Occurs(occurs, scope),
        _ => throw new PqlException(node.Position, "unsupported expression."),
    };

    private static Compiled Literal(object value) => new(_ => value, value switch
    {
        bool => Kind.Condition,
        double => Kind.Number,
        string => Kind.Text,
        DateTimeOffset => Kind.Date,
        _ => Kind.Any,
    });

    private Compiled ListLiteral(PqlListLiteral list, Scope scope)
    {
        var items = list.Items.Select(i => Compile(i, scope).Eval).ToArray();
        return new(c =>
        {
            var values = new List<object?>(items.Length);
            foreach (var item in items)
                if (item(c) is { } value) values.Add(value);
            return values;
        }, Kind.List);
    }

    private Compiled Name(PqlName name, Scope scope)
    {
        if (scope.Variables.TryGetValue(name.Name, out var variable))
        {
            int slot = variable.Slot;
            return new(c => c.Slots[slot], Kind.Any, Reads(variable.Path));
        }
        if (name.Name.StartsWith('$'))
        {
            if (name.Name != "$1") throw new PqlException(name.Position, $"{name.Name} is not defined; $1 is the current element (the profile, outside [ ] and where clauses).");
            if (scope.Element is not { } element) return new(c => c.Profile, Kind.Any, Reads(new PqlPath(false, [])));
            return new(c => c.Slots[element.Slot], Kind.Any, Reads(element.Path));
        }
        // Reserved words of the documentation: the time of evaluation, and the start of its day (UTC).
        if (name.Name == "now") return new(c => c.Now, Kind.Date);
        if (name.Name == "today") return new(c => Today(c), Kind.Date);
        if (name.Name == EventsName)
        {
            _usesEvents = true;
            return new(c => c.Events, Kind.List, Reads(new PqlPath(true, [])));
        }
        string member = name.Name;
        if (scope.Implicit is { } implicitObject)
        {
            int slot = implicitObject.Slot;
            return new(c => PqlValues.Member(c.Slots[slot], member), Kind.Any, Reads(Checked(implicitObject.Path?.With(member), name)));
        }
        return new(c => PqlValues.Member(c.Profile, member), Kind.Any, Reads(Checked(new PqlPath(false, [member]), name)));
    }

    /// <summary>Notes what <paramref name="path"/> reads of the profile or of events: a top-level member, or the whole.</summary>
    private PqlPath? Reads(PqlPath? path)
    {
        if (path is { Event: var isEvent, Names: var names })
        {
            if (names.Count > 0) (isEvent ? _eventMembers : _profileMembers).Add(names[0]);
            else if (isEvent) _wholeEventUses++;
            else _wholeProfileUses++;
        }
        return path;
    }

    /// <summary>A use of a whole profile, event or event list (<paramref name="path"/> with no member) that reads no member but its own.</summary>
    private void Consumes(PqlPath? path)
    {
        if (path is not { Names.Count: 0 } whole) return;
        if (whole.Event) _wholeEventUses--;
        else _wholeProfileUses--;
    }

    private PqlPath? Checked(PqlPath? path, PqlNode at)
    {
        if (path is { } known && _knownPath is not null && !_knownPath(known))
            throw new PqlException(at.Position, $"'{known}' is in no {(known.Event ? "event" : "profile")} dataset's schema.");
        return path;
    }

    private Compiled Member(PqlMember member, Scope scope)
    {
        var target = Compile(member.Target, scope);
        if (target.Kind is Kind.Condition or Kind.Number or Kind.Text or Kind.Date)
            throw new PqlException(member.Position, $"'{member.Name}' is not a member of {Describe(target.Kind)}.");
        var eval = target.Eval;
        string name = member.Name;
        Consumes(target.Path);
        return new(c => PqlValues.Member(eval(c), name), Kind.Any, Reads(Checked(target.Path?.With(name), member)));
    }

    private Compiled Filter(PqlFilter filter, Scope scope)
    {
        var target = Compile(filter.Target, scope);
        int slot = _slots++;
        var element = new Binding(slot, target.Path);
        var inner = scope with { Element = element, Implicit = element };
        var source = target.Eval;
        var condition = Condition(filter.Condition, inner, "a filter");
        return new(c =>
        {
            var kept = new List<object?>();
            foreach (var item in PqlValues.AsList(source(c)))
            {
                c.Slots[slot] = item;
                if (PqlValues.AsCondition(condition(c)) == true) kept.Add(item);
            }
            return kept;
        }, Kind.List, target.Path);
    }

    private Compiled Quantifier(PqlQuantifier quantifier, Scope scope)
    {
        var source = Compile(quantifier.Source, scope);
        // exists and forall read the elements through their variable (counted where it is used); select hands them on.
        if (quantifier.Kind != "select") Consumes(source.Path);
        int slot = _slots++;
        var element = new Binding(slot, source.Path);
        var inner = scope with { Variables = scope.Variables.SetItem(quantifier.Variable, element), Element = element };
        var items = source.Eval;
        var condition = quantifier.Condition is null ? null : Condition(quantifier.Condition, inner, "a where clause");
        bool Holds(PqlContext c, object? item)
        {
            c.Work++;
            c.Slots[slot] = item;
            return condition is null || PqlValues.AsCondition(condition(c)) == true;
        }
        return quantifier.Kind switch
        {
            "select" => new(c => PqlValues.AsList(items(c)).Where(i => Holds(c, i)).ToList(), Kind.List, source.Path),
            "exists" => new(c => PqlValues.AsList(items(c)).Any(i => Holds(c, i)), Kind.Condition),
            _ => new(c => PqlValues.AsList(items(c)).All(i => Holds(c, i)), Kind.Condition),
        };
    }

    private Compiled Not(PqlNot not, Scope scope)
    {
        var operand = Condition(not.Operand, scope, "the operand of not");
        return new(c => PqlValues.Not(PqlValues.AsCondition(operand(c))), Kind.Condition);
    }

    private Compiled Logic(PqlBinary binary, Scope scope)
    {
        var left = Condition(binary.Left, scope, $"the left side of {binary.Operator}");
        var right = Condition(binary.Right, scope, $"the right side of {binary.Operator}");
        return binary.Operator == "and"
            ? new(c => PqlValues.AsCondition(left(c)) is var a && a == false ? false : PqlValues.And(a, PqlValues.AsCondition(right(c))), Kind.Condition)
            : new(c => PqlValues.AsCondition(left(c)) is var a && a == true ? true : PqlValues.Or(a, PqlValues.AsCondition(right(c))), Kind.Condition);
    }

    private Compiled Comparison(PqlBinary binary, Scope scope)
    {
        var left = Compile(binary.Left, scope);
        var right = Compile(binary.Right, scope);
        CheckComparable(left.Kind, right.Kind, binary.Operator, binary.Position);
        var (l, r) = (left.Eval, right.Eval);
        return binary.Operator switch
        {
            "=" => new(c => PqlValues.Equal(l(c), r(c)), Kind.Condition),
            "!=" => new(c => PqlValues.Not(PqlValues.Equal(l(c), r(c))), Kind.Condition),
            "<" => new(c => PqlValues.Compare(l(c), r(c)) is { } o ? o < 0 : null, Kind.Condition),
            "<=" => new(c => PqlValues.Compare(l(c), r(c)) is { } o ? o <= 0 : null, Kind.Condition),
            ">" => new(c => PqlValues.Compare(l(c), r(c)) is { } o ? o > 0 : null, Kind.Condition),
            _ => new(c => PqlValues.Compare(l(c), r(c)) is { } o ? o >= 0 : null, Kind.Condition),
        };
    }

    private static void CheckComparable(Kind left, Kind right, string op, int position)
    {
        if (left == Kind.Any || right == Kind.Any) return;
        bool ordered = op is not ("=" or "!=");
        bool fits = (left, right) switch
        {
            (Kind.Date, Kind.Text) or (Kind.Text, Kind.Date) => true,
            (Kind.Condition, Kind.Condition) or (Kind.List, Kind.List) => !ordered,
            _ => left == right,
        };
        if (!fits) throw new PqlException(position, $"'{op}' cannot compare {Describe(left)} with {Describe(right)}.");
    }

    private static Compiled Function(PqlCall call)
    {
        switch (call.Name)
        {
            case "now":
                Arity(call, 0);
                return new(c => c.Now, Kind.Date);
            case "currentDate":
                Arity(call, 0);
                return new(c => Today(c), Kind.Date);
            case "currentYear" or "currentMonth" or "currentDayOfMonth":
                Arity(call, 0);
                return new(c => DatePart(call.Name, c.Now), Kind.Number);
            case "date":
                if (call.Arguments.Count is not (3 or 6)) throw new PqlException(call.Position, "date takes (year, month, day) or (year, month, day, hour, minute, second).");
                var parts = call.Arguments.Select(a => a is PqlLiteral { Value: double d } && d == Math.Floor(d) ? (int?)d : null).ToArray();
                if (parts.Any(p => p is null)) throw new PqlException(call.Position, "date takes whole-number literals.");
                try
                {
                    var date = parts.Length == 3
                        ? new DateTimeOffset(parts[0]!.Value, parts[1]!.Value, parts[2]!.Value, 0, 0, 0, TimeSpan.Zero)
                        : new DateTimeOffset(parts[0]!.Value, parts[1]!.Value, parts[2]!.Value, parts[3]!.Value, parts[4]!.Value, parts[5]!.Value, TimeSpan.Zero);
                    return new(_ => date, Kind.Date);
                }
                catch (ArgumentOutOfRangeException)
                {
                    throw new PqlException(call.Position, "date names no such day or time.");
                }
            default:
                throw new PqlException(call.Position, Methods.Contains(call.Name)
                    ? $"{call.Name} is a method: write it after a value, as in value.{call.Name}(…)."
                    : $"unknown function '{call.Name}'; the functions are date, now, currentDate, currentYear, currentMonth, currentDayOfMonth and if.");
        }
    }

    /// <summary><c>if(test, a, b)</c>: <c>a</c> when the test is true, <c>b</c> when it is false, unknown when it is unknown.</summary>
    private Compiled If(PqlCall call, Scope scope)
    {
        Arity(call, 3);
        var test = Condition(call.Arguments[0], scope, "the test of if");
        var (then, otherwise) = (Compile(call.Arguments[1], scope), Compile(call.Arguments[2], scope));
        var (a, b) = (then.Eval, otherwise.Eval);
        return new(c => PqlValues.AsCondition(test(c)) switch { true => a(c), false => b(c), null => null },
            then.Kind == otherwise.Kind ? then.Kind : Kind.Any);
    }

    private static DateTimeOffset Today(PqlContext c) => new(c.Now.UtcDateTime.Date, TimeSpan.Zero);

    /// <summary>The year, month (1–12) or day of the month of a date, in UTC, as a number.</summary>
    private static double DatePart(string name, DateTimeOffset date) => name switch
    {
        "currentYear" or "getYear" => date.UtcDateTime.Year,
        "currentMonth" or "getMonth" => date.UtcDateTime.Month,
        _ => date.UtcDateTime.Day,
    };

    private static void Arity(PqlCall call, int min, int? max = null)
    {
        int count = call.Arguments.Count;
        if (count >= min && count <= (max ?? min)) return;
        string expected = max is null || max == min ? $"{min}" : $"{min} or {max}";
        throw new PqlException(call.Position, $"{call.Name} takes {expected} argument{(max ?? min) switch { 1 => "", _ => "s" }}, not {count}.");
    }

    private Compiled Method(PqlCall call, Scope scope)
    {
        if (!Methods.Contains(call.Name))
            throw new PqlException(call.Position, $"unknown method '{call.Name}'; the methods are {string.Join(", ", Methods)}.");
        if (call.Name == "like") return Like(call.Target!, call.Arguments.ElementAtOrDefault(0), call, call.Position, scope);
        var target = Compile(call.Target!, scope);
        var t = target.Eval;
        if (CaseFlagMethods.Contains(call.Name)) return Text(call, target, scope);
        switch (call.Name)
        {
            case "isNull":
                Arity(call, 0);
                return new(c => t(c) is null, Kind.Condition);
            case "isNotNull":
                Arity(call, 0);
                return new(c => t(c) is not null, Kind.Condition);
            case "count":
                Arity(call, 0);
                Consumes(target.Path);
                return new(c => (double)PqlValues.AsList(t(c)).Count, Kind.Number);
            case "sum" or "avg" or "average":
            {
                Arity(call, 0, 1);
                var values = Selected(call, target, scope);
                bool average = call.Name is "avg" or "average";
                return new(c =>
                {
                    var numbers = values(c).OfType<double>().ToList();
                    return numbers.Count == 0 ? null : average ? numbers.Average() : numbers.Sum();
                }, Kind.Number);
            }
            case "min" or "max":
            {
                Arity(call, 0, 1);
                var values = Selected(call, target, scope);
                bool max = call.Name == "max";
                return new(c => Extreme(values(c), max), Kind.Any);
            }
            case "distinct":
                Arity(call, 0);
                return new(c => Distinct(PqlValues.AsList(t(c))), Kind.List, target.Path);
            case "head":
                Arity(call, 0);
                return new(c => PqlValues.AsList(t(c)) is { Count: > 0 } list ? list[0] : null, Kind.Any, target.Path);
            case "topN" or "bottomN":
                return Ranked(call, target, scope);
            case "regexGroup":
                return RegexGroup(call, target);
            case "getYear" or "getMonth" or "getDayOfMonth":
                Arity(call, 0);
                return new(c => PqlValues.AsDate(t(c)) is { } date ? DatePart(call.Name, date) : null, Kind.Number);
            case "keys":
                Arity(call, 0);
                return new(c => t(c) is MergedValue map ? map.EnumerateObject().Select(m => (object?)m.Name).ToList() : null, Kind.List);
            case "values":
                Arity(call, 0);
                return new(c => t(c) is MergedValue map ? map.EnumerateObject().Select(m => PqlValues.FromJson(m.Value)).ToList() : null, Kind.List);
            case "get":
            {
                Arity(call, 1);
                var key = Compile(call.Arguments[0], scope).Eval;
                return new(c => t(c) is MergedValue map && key(c) is string name ? PqlValues.Member(map, name) : null, Kind.Any);
            }
        }
        Arity(call, 1);
        var argument = Compile(call.Arguments[0], scope).Eval;
        return call.Name switch
        {
            "in" => new(c => t(c) is { } v && argument(c) is { } list ? PqlValues.Contains(PqlValues.AsList(list), v) : null, Kind.Condition),
            "notIn" => new(c => t(c) is { } v && argument(c) is { } list ? !PqlValues.Contains(PqlValues.AsList(list), v) : null, Kind.Condition),
            "includes" => new(c => t(c) is { } list && argument(c) is { } v ? PqlValues.Contains(PqlValues.AsList(list), v) : null, Kind.Condition),
            "intersects" => new(c => t(c) is { } a && argument(c) is { } b ? PqlValues.AsList(a).Any(x => PqlValues.Contains(PqlValues.AsList(b), x)) : null, Kind.Condition),
            "intersection" => new(c => t(c) is { } a && argument(c) is { } b ? Distinct(PqlValues.AsList(a).Where(x => PqlValues.Contains(PqlValues.AsList(b), x)).ToList()) : null, Kind.List),
            "subsetOf" => new(c => t(c) is { } a && argument(c) is { } b ? PqlValues.AsList(a).All(x => PqlValues.Contains(PqlValues.AsList(b), x)) : null, Kind.Condition),
            _ => new(c => t(c) is { } a && argument(c) is { } b ? PqlValues.AsList(b).All(x => PqlValues.Contains(PqlValues.AsList(a), x)) : null, Kind.Condition),
        };
    }

    /// <summary>
    /// What an aggregate reads of a list: its elements, or with an argument, the argument evaluated on each element. In
    /// the argument a bare name is a member of the element (<c>orders.topN(price, 5)</c>); the first name of a longer path
    /// names the element itself, as the documentation writes <c>orders.sum(order.price)</c>.
    /// </summary>
    private Func<PqlContext, List<object?>> Selected(PqlCall call, Compiled target, Scope scope)
    {
        var t = target.Eval;
        if (call.Arguments.Count == 0) return c => PqlValues.AsList(t(c));
        int slot = _slots++;
        var element = new Binding(slot, target.Path);
        var inner = scope with { Element = element, Implicit = element };
        if (RootName(call.Arguments[0]) is { } alias) inner = inner with { Variables = inner.Variables.SetItem(alias, element) };
        var select = Compile(call.Arguments[0], inner).Eval;
        return c =>
        {
            var values = new List<object?>();
            foreach (var item in PqlValues.AsList(t(c)))
            {
                c.Work++;
                c.Slots[slot] = item;
                values.Add(select(c));
            }
            return values;
        };

        static string? RootName(PqlNode node) => node is PqlMember member
            ? member.Target is PqlName { Name: var name } && !name.StartsWith('$') ? name : RootName(member.Target)
            : null;
    }

    /// <summary><c>topN(value, n)</c>: the n elements with the greatest values, greatest first; <c>bottomN</c>: the n with the least, least first.</summary>
    private Compiled Ranked(PqlCall call, Compiled target, Scope scope)
    {
        Arity(call, 2);
        if (call.Arguments[1] is not PqlLiteral { Value: double n } || n < 0 || n != Math.Floor(n))
            throw new PqlException(call.Arguments[1].Position, $"the second argument of {call.Name} is a whole-number literal: how many elements to keep.");
        var t = target.Eval;
        var values = Selected(call, target, scope);
        bool top = call.Name == "topN";
        return new(c =>
        {
            var keyed = PqlValues.AsList(t(c)).Zip(values(c)).Where(p => p.Second is not null).ToList();
            keyed.Sort((a, b) => PqlValues.Compare(a.Second, b.Second) ?? 0);
            if (top) keyed.Reverse();
            return keyed.Take((int)n).Select(p => p.First).ToList();
        }, Kind.List, target.Path);
    }

    /// <summary><c>s.regexGroup(pattern, group)</c>: the text of that group of the first match (group 0 when not given), or null.</summary>
    private static Compiled RegexGroup(PqlCall call, Compiled target)
    {
        Arity(call, 1, 2);
        if (call.Arguments[0] is not PqlLiteral { Value: string pattern }) throw new PqlException(call.Arguments[0].Position, "regexGroup takes a string literal pattern.");
        int group = 0;
        if (call.Arguments.Count == 2)
        {
            if (call.Arguments[1] is not PqlLiteral { Value: double g } || g < 0 || g > 99 || g != Math.Floor(g))
                throw new PqlException(call.Arguments[1].Position, "the second argument of regexGroup is a whole-number literal: the group to return.");
            group = (int)g;
        }
        var regex = NewRegex(pattern, caseSensitive: true, call.Arguments[0].Position, "a regular expression");
        var t = target.Eval;
        return new(c =>
        {
            if (t(c) is not string s) return null;
            c.Work += s.Length + 1;
            var match = regex.Match(s);
            return match.Success && group < match.Groups.Count && match.Groups[group].Success ? match.Groups[group].Value : null;
        }, Kind.Text);
    }

    private static List<object?> Distinct(List<object?> items)
    {
        var kept = new List<object?>();
        foreach (var item in items)
            if (!PqlValues.Contains(kept, item)) kept.Add(item);
        return kept;
    }

    /// <summary>
    /// <c>+ - * / %</c> on numbers; anything else, or a division by zero, is unknown. Operands that cannot be numbers
    /// (a string literal, a condition) are refused where they are written.
    /// </summary>
    private Compiled Arithmetic(PqlBinary binary, Scope scope)
    {
        var left = Compile(binary.Left, scope);
        var right = Compile(binary.Right, scope);
        foreach (var (side, node) in new[] { (left, binary.Left), (right, binary.Right) })
            if (side.Kind is not (Kind.Number or Kind.Any))
                throw new PqlException(node.Position, $"'{binary.Operator}' needs numbers, not {Describe(side.Kind)}.");
        var (l, r) = (left.Eval, right.Eval);
        Func<double, double, double?> op = binary.Operator switch
        {
            "+" => (a, b) => a + b,
            "-" => (a, b) => a - b,
            "*" => (a, b) => a * b,
            "/" => (a, b) => b == 0 ? null : a / b,
            _ => (a, b) => b == 0 ? null : a % b,
        };
        return new(c => l(c) is double a && r(c) is double b ? op(a, b) : null, Kind.Number);
    }

    /// <summary>The least or greatest number of a list; with no number, the least or greatest date; else null.</summary>
    private static object? Extreme(List<object?> items, bool max)
    {
        var numbers = items.OfType<double>().ToList();
        if (numbers.Count > 0) return max ? numbers.Max() : numbers.Min();
        var dates = items.Select(PqlValues.AsDate).OfType<DateTimeOffset>().ToList();
        return dates.Count == 0 ? null : max ? dates.Max() : dates.Min();
    }

    /// <summary>startsWith, endsWith, contains, equals, notEqualTo, matches: a string method with an optional case-sensitivity flag (default true).</summary>
    private Compiled Text(PqlCall call, Compiled target, Scope scope)
    {
        Arity(call, 1, 2);
        bool caseSensitive = CaseFlag(call);
        var t = target.Eval;
        if (target.Kind is not (Kind.Any or Kind.Text)) throw new PqlException(call.Position, $"{call.Name} needs a string, not {Describe(target.Kind)}.");
        var comparison = caseSensitive ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase;
        if (call.Name == "matches")
        {
            if (call.Arguments[0] is not PqlLiteral { Value: string pattern }) throw new PqlException(call.Arguments[0].Position, "matches takes a string literal pattern.");
            var regex = NewRegex(pattern, caseSensitive, call.Arguments[0].Position, "a regular expression");
            return new(c => t(c) is string s ? Matches(regex, s, c) : null, Kind.Condition);
        }
        var argument = Compile(call.Arguments[0], scope).Eval;
        Func<string, string, bool> test = call.Name switch
        {
            "startsWith" => (s, a) => s.StartsWith(a, comparison),
            "doesNotStartWith" => (s, a) => !s.StartsWith(a, comparison),
            "endsWith" => (s, a) => s.EndsWith(a, comparison),
            "doesNotEndWith" => (s, a) => !s.EndsWith(a, comparison),
            "contains" => (s, a) => s.Contains(a, comparison),
            "doesNotContain" => (s, a) => !s.Contains(a, comparison),
            "equals" => (s, a) => string.Equals(s, a, comparison),
            _ => (s, a) => !string.Equals(s, a, comparison),
        };
        return new(c => t(c) is string s && argument(c) is string a ? test(s, a) : null, Kind.Condition);
    }

    private static bool CaseFlag(PqlCall call)
    {
        if (call.Arguments.Count < 2) return true;
        return call.Arguments[1] is PqlLiteral { Value: bool flag }
            ? flag
            : throw new PqlException(call.Arguments[1].Position, $"the second argument of {call.Name} is a boolean literal: true for case-sensitive (the default), false for not.");
    }

    /// <summary><c>s like "a%b_"</c> or <c>s.like("a%", false)</c>: <c>%</c> any run of characters, <c>_</c> one, <c>\</c> escapes either.</summary>
    private Compiled Like(PqlNode target, PqlNode? patternNode, PqlCall? call, int position, Scope scope)
    {
        if (call is not null) Arity(call, 1, 2);
        if (patternNode is not PqlLiteral { Value: string pattern }) throw new PqlException(patternNode?.Position ?? position, "like takes a string literal pattern.");
        var compiledTarget = Compile(target, scope);
        if (compiledTarget.Kind is not (Kind.Any or Kind.Text)) throw new PqlException(position, $"like needs a string, not {Describe(compiledTarget.Kind)}.");
        var regex = NewRegex(LikeToRegex(pattern), call is null || CaseFlag(call), patternNode.Position, "a like pattern");
        var t = compiledTarget.Eval;
        return new(c => t(c) is string s ? Matches(regex, s, c) : null, Kind.Condition);
    }

    private static string LikeToRegex(string pattern)
    {
        var regex = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char ch = pattern[i];
            if (ch == '\\' && i + 1 < pattern.Length) regex.Append(Regex.Escape(pattern[++i].ToString()));
            else if (ch == '%') regex.Append(".*");
            else if (ch == '_') regex.Append('.');
            else regex.Append(Regex.Escape(ch.ToString()));
        }
        return regex.Append('$').ToString();
    }

    /// <summary>
    /// Patterns run on .NET's non-backtracking engine: matching takes time linear in the text whatever the pattern, so
    /// <c>(a+)+$</c> cannot run away. A pattern that needs backtracking (backreferences, lookarounds, atomic groups) is refused.
    /// </summary>
    private static Regex NewRegex(string pattern, bool caseSensitive, int position, string what)
    {
        var options = RegexOptions.CultureInvariant | RegexOptions.Singleline | RegexOptions.NonBacktracking | (caseSensitive ? RegexOptions.None : RegexOptions.IgnoreCase);
        try
        {
            return new Regex(pattern, options, RegexTimeLimit);
        }
        catch (ArgumentException e)
        {
            throw new PqlException(position, $"not {what}: {e.Message}");
        }
        catch (NotSupportedException)
        {
            throw new PqlException(position, $"{what} that needs backtracking (a backreference, lookaround, atomic group or conditional) is not supported: patterns run in linear time.");
        }
    }

    /// <summary>A match (its scan counted as work), or unknown when the regular expression runs out of its time limit.</summary>
    private static bool? Matches(Regex regex, string text, PqlContext context)
    {
        context.Work += text.Length + 1;
        try
        {
            return regex.IsMatch(text);
        }
        catch (RegexMatchTimeoutException)
        {
            return null;
        }
    }

    private Compiled Occurs(PqlOccurs occurs, Scope scope)
    {
        var time = Compile(occurs.Time, scope).Eval;
        Func<PqlContext, object?> Reference(PqlNode node) => node switch
        {
            PqlName { Name: "now" } when !scope.Variables.ContainsKey("now") => c => c.Now,
            PqlName { Name: "today" } when !scope.Variables.ContainsKey("today") => c => Today(c),
            _ => Compile(node, scope).Eval,
        };
        switch (occurs.Form)
        {
            case OccursForm.Today:
                return new(c => PqlValues.AsDate(time(c)) is { } t ? t.UtcDateTime.Date == c.Now.UtcDateTime.Date : null, Kind.Condition);
            case OccursForm.Yesterday:
                return new(c => PqlValues.AsDate(time(c)) is { } t ? t.UtcDateTime.Date == c.Now.UtcDateTime.Date.AddDays(-1) : null, Kind.Condition);
            case OccursForm.Direction:
                var side = Reference(occurs.Reference!);
                string op = occurs.Comparison!;
                return new(c => PqlValues.AsDate(time(c)) is { } t && PqlValues.AsDate(side(c)) is { } r
                    ? op switch { "<" => t < r, ">" => t > r, _ => t >= r }
                    : null, Kind.Condition);
            case OccursForm.Tomorrow:
                return new(c => PqlValues.AsDate(time(c)) is { } t ? t.UtcDateTime.Date == c.Now.UtcDateTime.Date.AddDays(1) : null, Kind.Condition);
            case OccursForm.Calendar:
                long offset = occurs.Amount;
                string period = occurs.Unit!;
                return new(c =>
                {
                    if (PqlValues.AsDate(time(c)) is not { } t) return null;
                    var start = Shift(PeriodStart(c.Now, period), offset, period);
                    return t >= start && t < Shift(start, 1, period);
                }, Kind.Condition);
            case OccursForm.On:
                var day = Reference(occurs.Reference!);
                return new(c => PqlValues.AsDate(time(c)) is { } t && PqlValues.AsDate(day(c)) is { } d ? t.UtcDateTime.Date == d.UtcDateTime.Date : null, Kind.Condition);
            case OccursForm.Between:
                var (from, until) = (Reference(occurs.Reference!), Reference(occurs.Until!));
                return new(c => PqlValues.AsDate(time(c)) is { } t && PqlValues.AsDate(from(c)) is { } a && PqlValues.AsDate(until(c)) is { } b ? t >= a && t <= b : null, Kind.Condition);
        }
        var reference = Reference(occurs.Reference!);
        long amount = occurs.Amount;
        string unit = occurs.Unit!, comparison = occurs.Comparison!;
        bool after = occurs.After;
        if (comparison is "=" or "!=")
        {
            // Exactly n units before (after) the reference: within the unit-long span that ends (starts) n - 1 units from it.
            bool equal = comparison == "=";
            return new(c =>
            {
                if (PqlValues.AsDate(time(c)) is not { } t || PqlValues.AsDate(reference(c)) is not { } r) return null;
                var (near, far) = (Shift(r, after ? amount - 1 : 1 - amount, unit), Shift(r, after ? amount : -amount, unit));
                bool within = after ? t > near && t <= far : t >= far && t < near;
                return within == equal;
            }, Kind.Condition);
        }
        return new(c =>
        {
            if (PqlValues.AsDate(time(c)) is not { } t || PqlValues.AsDate(reference(c)) is not { } r) return null;
            if (after ? t < r : t > r) return false;
            var bound = Shift(r, after ? amount : -amount, unit);
            // Before the reference, "within n units" means at or after the bound; after it, at or before the bound.
            int order = after ? t.CompareTo(bound) : bound.CompareTo(t);
            return comparison switch { "<" => order < 0, "<=" => order <= 0, ">" => order > 0, _ => order >= 0 };
        }, Kind.Condition);
    }

    /// <summary>The start of the calendar period (UTC) that holds <paramref name="time"/>: its second, minute, hour, day, ISO week (from Monday), month or year.</summary>
    private static DateTimeOffset PeriodStart(DateTimeOffset time, string unit)
    {
        var t = time.UtcDateTime;
        var start = unit switch
        {
            "millisecond" => new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, t.Millisecond, DateTimeKind.Utc),
            "second" => new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second, DateTimeKind.Utc),
            "minute" => new DateTime(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, DateTimeKind.Utc),
            "hour" => new DateTime(t.Year, t.Month, t.Day, t.Hour, 0, 0, DateTimeKind.Utc),
            "day" => t.Date,
            "week" => t.Date.AddDays(-(((int)t.DayOfWeek + 6) % 7)),
            "month" => new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Utc),
            "year" => new DateTime(t.Year, 1, 1, 0, 0, 0, DateTimeKind.Utc),
            _ => new DateTime(Math.Max(1, t.Year - t.Year % YearsOf(unit)), 1, 1, 0, 0, 0, DateTimeKind.Utc),
        };
        return new DateTimeOffset(start, TimeSpan.Zero);
    }

    private static int YearsOf(string unit) => unit switch { "decade" => 10, "century" => 100, "millennium" => 1000, _ => 1 };

    /// <summary><c>(Name) => body</c>: the name bound to the profile for the body.</summary>
    private Compiled Lambda(PqlLambda lambda, Scope scope)
    {
        int slot = _slots++;
        var body = Compile(lambda.Body, scope with { Variables = scope.Variables.SetItem(lambda.Variable, new Binding(slot, new PqlPath(false, []))) });
        var eval = body.Eval;
        return new(c =>
        {
            c.Slots[slot] = c.Profile;
            return eval(c);
        }, body.Kind, body.Path);
    }

    /// <summary>The time <paramref name="amount"/> units later (or earlier); past the calendar's ends, its first or last instant.</summary>
    private static DateTimeOffset Shift(DateTimeOffset time, long amount, string unit)
    {
        try
        {
            int bounded = (int)Math.Clamp(amount, -1_000_000, 1_000_000);
            return unit switch
            {
                "second" => time.AddSeconds(amount),
                "minute" => time.AddMinutes(amount),
                "hour" => time.AddHours(amount),
                "day" => time.AddDays(amount),
                "week" => time.AddDays(7.0 * amount),
                "millisecond" => time.AddMilliseconds(amount),
                "month" => time.AddMonths(bounded),
                _ => time.AddYears((int)Math.Clamp(amount * YearsOf(unit), -1_000_000, 1_000_000)),
            };
        }
        catch (ArgumentOutOfRangeException)
        {
            return amount < 0 ? DateTimeOffset.MinValue : DateTimeOffset.MaxValue;
        }
    }

    private static string Describe(Kind kind) => kind switch
    {
        Kind.Condition => "a condition",
        Kind.Number => "a number",
        Kind.Text => "a string",
        Kind.Date => "a date",
        Kind.List => "a list",
        _ => "a value",
    };
}
