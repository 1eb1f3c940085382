namespace ExportJobs.Core.Tests;

public class ShownTextTests
{
    [Theory]
    [InlineData("abc", 3, "abc")]
    [InlineData("abcd", 3, "abc…")]
    // A surrogate pair at the bound is kept whole or left out whole, never cut in half.
    [InlineData("ab\U0001F600", 3, "ab…")]
    [InlineData("ab\U0001F600", 4, "ab\U0001F600")]
    [InlineData("a\U0001F600b", 3, "a\U0001F600…")]
    public void Text_is_cut_at_its_bound_never_inside_a_surrogate_pair(string text, int max, string shown) =>
        Assert.Equal(shown, ShownText.Cut(text, max));
}
