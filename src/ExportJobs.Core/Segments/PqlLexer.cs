using System.Globalization;
using System.Text;

namespace ExportJobs.Core.Segments;

[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "The PQL literal kinds.")]
public enum PqlTokenKind { End, Identifier, Variable, String, Integer, Double, Symbol }

/// <summary>One token of a PQL expression and where it starts (0-based character offset).</summary>
public readonly record struct PqlToken(PqlTokenKind Kind, string Text, int Position, object? Value = null)
{
    public bool Is(string symbol) => Kind == PqlTokenKind.Symbol && Text == symbol;

    /// <summary>A keyword is an identifier compared without case (<c>AND</c>, <c>and</c>).</summary>
    public bool IsKeyword(string keyword) => Kind == PqlTokenKind.Identifier && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

    public string Describe() => Kind switch
    {
        PqlTokenKind.End => "the end of the expression",
        PqlTokenKind.String => "a string",
        PqlTokenKind.Integer or PqlTokenKind.Double => $"the number {Text}",
        _ => $"'{Text}'",
    };
}

/// <summary>An expression that does not parse or compile: the position (0-based) and the reason.</summary>
public sealed class PqlException(int position, string reason) : Exception($"at {position}: {reason}")
{
    public int Position { get; } = position;
    public string Reason { get; } = reason;
}

/// <summary>Splits PQL text into tokens: identifiers (letters, digits, <c>_</c>, <c>@</c>), <c>$1</c> variables, quoted strings, numbers, symbols.</summary>
public static class PqlLexer
{
    private static readonly string[] Symbols = ["<=", ">=", "!=", "<>", "==", "=>", "=", "<", ">", "(", ")", "[", "]", ",", ".", "-", "+", "*", "/", "%", "!", ":"];

    public static List<PqlToken> Tokenize(string text)
    {
        var tokens = new List<PqlToken>();
        int i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            if (i >= text.Length)
            {
                tokens.Add(new PqlToken(PqlTokenKind.End, "", text.Length));
                return tokens;
            }
            char c = text[i];
            int start = i;
            if (char.IsLetter(c) || c is '_' or '@')
            {
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] is '_' or '@')) i++;
                tokens.Add(new PqlToken(PqlTokenKind.Identifier, text[start..i], start));
            }
            else if (c == '$')
            {
                i++;
                while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
                if (i == start + 1) throw new PqlException(start, "'$' must be followed by a number, as in $1.");
                tokens.Add(new PqlToken(PqlTokenKind.Variable, text[start..i], start));
            }
            else if (c is '"' or '\'')
            {
                tokens.Add(ReadString(text, ref i));
            }
            else if (char.IsAsciiDigit(c))
            {
                tokens.Add(ReadNumber(text, ref i));
            }
            else
            {
                string? symbol = Symbols.FirstOrDefault(s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0);
                if (symbol is null) throw new PqlException(start, $"unexpected character '{c}'.");
                i += symbol.Length;
                tokens.Add(new PqlToken(PqlTokenKind.Symbol, symbol switch { "==" => "=", "<>" => "!=", _ => symbol }, start));
            }
        }
    }

    private static PqlToken ReadString(string text, ref int i)
    {
        int start = i;
        char quote = text[i++];
        var value = new StringBuilder();
        while (true)
        {
            if (i >= text.Length) throw new PqlException(start, "a string is not closed.");
            char c = text[i++];
            if (c == quote) return new PqlToken(PqlTokenKind.String, text[start..i], start, value.ToString());
            if (c != '\\')
            {
                value.Append(c);
                continue;
            }
            if (i >= text.Length) throw new PqlException(start, "a string is not closed.");
            char escaped = text[i++];
            switch (escaped)
            {
                case '"' or '\'' or '\\' or '/': value.Append(escaped); break;
                case 'n': value.Append('\n'); break;
                case 't': value.Append('\t'); break;
                case 'r': value.Append('\r'); break;
                case 'u' when i + 4 <= text.Length && int.TryParse(text.AsSpan(i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code):
                    value.Append((char)code);
                    i += 4;
                    break;
                // Any other escape is kept as written, so a regular expression reads as the documentation writes it ("@(\w+)").
                default: value.Append('\\').Append(escaped); break;
            }
        }
    }

    private static PqlToken ReadNumber(string text, ref int i)
    {
        int start = i;
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        bool isDouble = false;
        if (i + 1 < text.Length && text[i] == '.' && char.IsAsciiDigit(text[i + 1]))
        {
            isDouble = true;
            i++;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        }
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            int mark = i++;
            if (i < text.Length && text[i] is '+' or '-') i++;
            if (i >= text.Length || !char.IsAsciiDigit(text[i])) throw new PqlException(mark, "an exponent needs digits.");
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            isDouble = true;
        }
        if (i < text.Length && (char.IsLetter(text[i]) || text[i] == '_')) throw new PqlException(i, $"a number runs into '{text[i]}'.");
        string literal = text[start..i];
        if (isDouble) return new PqlToken(PqlTokenKind.Double, literal, start, double.Parse(literal, CultureInfo.InvariantCulture));
        if (!long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out long integer)) throw new PqlException(start, "an integer is too large.");
        return new PqlToken(PqlTokenKind.Integer, literal, start, integer);
    }
}
