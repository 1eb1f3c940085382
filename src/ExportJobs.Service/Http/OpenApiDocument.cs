using Microsoft.AspNetCore.Http;

namespace ExportJobs.Service.Http;

/// <summary>
/// The OpenAPI 3 document of every endpoint (<c>Http/OpenApi/openapi.json</c>, embedded), served as it is by both hosts
/// without authentication. A test checks that it documents every route both hosts expose and that its examples pass
/// the validators.
/// </summary>
public static class OpenApiDocument
{
    public static string Json { get; } = Load();

    public static IResult Answer() => Results.Text(Json, "application/json");

    private static string Load()
    {
        using var stream = typeof(OpenApiDocument).Assembly.GetManifestResourceStream("ExportJobs.Service.openapi.json")
                           ?? throw new InvalidOperationException("The OpenAPI document is not embedded in the Service assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
