namespace ExportJobs.Core.Datasets;

/// <summary>The body of <c>POST /datasets</c>.</summary>
public sealed record DatasetRequest
{
    public string? Name { get; init; }
    public DatasetSchemaRef? Schema { get; init; }
    /// <summary>Whether the dataset feeds the profile store (its batches become profile fragments).</summary>
    public bool? ProfileEnabled { get; init; }
}

public sealed record DatasetSchemaRef
{
    public string? Name { get; init; }

    /// <summary>Optional: the records' schema, in the JSON Schema subset of <see cref="Schemas.SchemaNode"/>. Fixed at creation.</summary>
    public System.Text.Json.Nodes.JsonObject? Definition { get; init; }
}

public sealed record Dataset
{
    /// <summary>The XDM class of experience events: a dataset of this schema holds events, any other profile records.</summary>
    public const string EventSchema = "_xdm.context.experienceevent";

    public bool HoldsEvents => Schema.Name == EventSchema;

    /// <summary>What a record of this dataset must fit, system fields included; null when the dataset has no schema.</summary>
    public Schemas.SchemaNode? RecordSchema()
    {
        if (Schema.Definition is null) return null;
        var definition = Schemas.SchemaNode.Parse(Schema.Definition, "schema.definition", new ProblemList())!;
        return HoldsEvents ? Schemas.SystemFields.ForEvents(definition) : Schemas.SystemFields.ForProfiles(definition);
    }

    public required string Id { get; init; }
    public required string Name { get; init; }
    public required DatasetSchemaRef Schema { get; init; }
    public bool ProfileEnabled { get; init; }
    public required string ImsOrgId { get; init; }
    public required string SandboxName { get; init; }
    public long Created { get; init; }
    public long Updated { get; init; }
}

/// <summary>A batch of a dataset: one ingestion, or the output of one export job.</summary>
public sealed record DatasetBatch
{
    public required string Id { get; init; }
    public required string DatasetId { get; init; }
    public required string Status { get; init; }
    public long RecordsAccepted { get; init; }
    public long RecordsRejected { get; init; }
    public List<RejectedRecord>? Errors { get; init; }
    /// <summary>For an export batch: the job that wrote it.</summary>
    public long? RelatedJobId { get; init; }
    /// <summary>For an export batch: where its files and manifest are, relative to the storage account.</summary>
    public string? Location { get; init; }
    public long Created { get; init; }
    public long? Completed { get; init; }
}

public sealed record RejectedRecord(long Line, string Reason);

/// <summary>The answer of <c>GET /datasets</c> (an extension).</summary>
public sealed record DatasetList(IReadOnlyList<Dataset> Datasets);

/// <summary>The answer of <c>GET /datasets/{id}/batches</c> (an extension).</summary>
public sealed record DatasetBatchList(IReadOnlyList<DatasetBatch> Batches);

/// <summary>The answer of <c>GET /datasets/{id}/batches/{batchId}/files</c>.</summary>
public sealed record BatchFileList(IReadOnlyList<BatchFile> Files);

public sealed record BatchFile(string Name, long Bytes, string? Md5, string Href);

public static class BatchStatus
{
    public const string Success = "success";
    public const string Failed = "failed";
    public const string Processing = "processing";
}

public static class DatasetRequestValidator
{
    public static ProblemList Validate(DatasetRequest request)
    {
        var problems = new ProblemList();
        if (string.IsNullOrWhiteSpace(request.Name)) problems.Add("name", "name is required.");
        else if (request.Name.Length > 256) problems.Add("name", "name is longer than 256 characters.");
        if (string.IsNullOrWhiteSpace(request.Schema?.Name)) problems.Add("schema.name", "schema.name is required.");
        else if (request.Schema.Name.Length > 256) problems.Add("schema.name", "schema.name is longer than 256 characters.");
        if (request.Schema?.Definition is { } definition &&
            Schemas.SchemaNode.Parse(definition, "schema.definition", problems) is { Kind: not Schemas.SchemaKind.Object })
            problems.Add("schema.definition", "a dataset's schema is an object schema with properties.");
        return problems;
    }
}
