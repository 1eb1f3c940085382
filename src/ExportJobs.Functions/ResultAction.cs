using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace ExportJobs.Functions;

/// <summary>Lets a function return a handler's <see cref="IResult"/>: it writes the response exactly as the LocalHost does.</summary>
public sealed class ResultAction(IResult result) : IActionResult
{
    public IResult Result { get; } = result;

    public Task ExecuteResultAsync(ActionContext context) => Result.ExecuteAsync(context.HttpContext);
}

public static class ResultActionExtensions
{
    public static async Task<IActionResult> AsAction(this Task<IResult> result) => new ResultAction(await result);
}
