using System.Text;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Tests;

public class IdentityKeyTests
{
    /// <summary>
    /// Ids of one byte to four, prefixes of each other, and characters on both sides of where UTF-16 and UTF-8 order
    /// differ: U+E000–U+FFFF against the supplementary planes.
    /// </summary>
    private static readonly string[] Ids =
    [
        "", "a", "ab", "abc", "B", "z", "é", "ée", "\u07FF", "\u0800", "\uD7FF", "\uE000", "\uE000a", "\uFB01", "\uFF21", "\uFFFD",
        "\U00010000", "\U0001F600", "\U0001F600a", "\U0010FFFF", "a\U0001F600", "a\uFF21", "a\uFF21\U0001F600", "a\U0001F600\uFF21",
    ];

    private static IEnumerable<(string A, string B)> Pairs => Ids.SelectMany(a => Ids.Select(b => (a, b)));

    [Fact]
    public void Ids_compared_as_UTF_8_come_in_the_ordinal_order_of_their_strings() =>
        Assert.DoesNotContain(Pairs, p => Math.Sign(string.CompareOrdinal(p.A, p.B)) != Math.Sign(IdentityKey.CompareIds(Encoding.UTF8.GetBytes(p.A), Encoding.UTF8.GetBytes(p.B))));

    [Fact]
    public void Bytes_alone_would_put_some_of_these_ids_in_another_order()
    {
        // Without this, the test above could pass over a plain byte comparison.
        Assert.Contains(Pairs, p =>
            Math.Sign(string.CompareOrdinal(p.A, p.B)) != Math.Sign(Encoding.UTF8.GetBytes(p.A).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(p.B))));
    }
}
