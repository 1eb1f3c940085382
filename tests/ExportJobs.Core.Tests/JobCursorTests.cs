using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Tests;

public class JobCursorTests
{
    [Fact]
    public void Cursor_round_trips_through_its_text()
    {
        var cursor = new JobCursor(1538573416687, 722);
        Assert.Equal("1538573416687_722", cursor.ToString());
        Assert.True(JobCursor.TryParse(cursor.ToString(), out var parsed));
        Assert.Equal(cursor, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1538573416687")]
    [InlineData("_722")]
    [InlineData("1538573416687_")]
    [InlineData("1538573416687_722_1")]
    [InlineData("1538573416687_-722")]
    [InlineData("1538573416687_0")]
    [InlineData("abc_722")]
    [InlineData("1538573416687_722' or '1'='1")]
    [InlineData("1234567890123456_1")]
    public void Malformed_cursors_are_refused(string text) => Assert.False(JobCursor.TryParse(text, out _));

    [Fact]
    public void Next_link_has_the_seed_shape_and_keeps_the_status_filter()
    {
        var problems = new ProblemList();
        var query = JobListQuery.Parse("2", null, null, problems);
        Assert.Equal("/export/jobs/?limit=2&offset=1538573416687_722", query.NextLink(new JobCursor(1538573416687, 722)));
        var filtered = JobListQuery.Parse("2", null, "NEW", problems);
        Assert.Equal("/export/jobs/?limit=2&offset=1_5&status=NEW", filtered.NextLink(new JobCursor(1, 5)));
        Assert.True(problems.IsEmpty);
    }

    [Theory]
    [InlineData("0", null, null, "limit")]
    [InlineData("101", null, null, "limit")]
    [InlineData("x", null, null, "limit")]
    [InlineData("-1", null, null, "limit")]
    [InlineData(null, "garbage", null, "offset")]
    [InlineData(null, null, "DONE", "status")]
    [InlineData(null, null, "new", "status")]
    public void Bad_list_parameters_name_the_parameter(string? limit, string? offset, string? status, string field)
    {
        var problems = new ProblemList();
        JobListQuery.Parse(limit, offset, status, problems);
        Assert.Equal(field, Assert.Single(problems.Items).Field);
    }
}
