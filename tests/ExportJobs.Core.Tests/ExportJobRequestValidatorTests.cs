using System.Text.Json;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Tests;

public class ExportJobRequestValidatorTests
{
    private const string SeedPayload = """
        {
            "fields": "identities.id,personalEmail.address",
            "mergePolicy": { "id": "timestampOrdered-none-mp", "version": 1 },
            "filter": {
                "segments": [ { "segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff", "segmentNs": "ups", "status": [ "realized" ] } ],
                "segmentQualificationTime": { "startTime": "2018-01-01T00:00:00Z", "endTime": "2018-02-01T00:00:00Z" },
                "fromIngestTimestamp": "2018-01-01T00:00:00Z",
                "emptyProfiles": true
            },
            "additionalFields": { "eventList": { "fields": "string", "filter": { "fromIngestTimestamp": "2018-01-01T00:00:00Z", "toIngestTimestamp": "2020-01-01T00:00:00Z" } } },
            "destination": { "datasetId": "5b7c86968f7b6501e21ba9df", "segmentPerBatch": false },
            "schema": { "name": "_xdm.context.profile" },
            "evaluationInfo": { "segmentation": true }
        }
        """;

    private static ExportJobRequest Seed() => JsonSerializer.Deserialize(SeedPayload, CoreJson.Wire.ExportJobRequest)!;

    [Fact]
    public void The_seed_payload_is_valid() => Assert.Empty(ExportJobRequestValidator.Validate(Seed()).Items);

    public static TheoryData<string, Func<ExportJobRequest, ExportJobRequest>> Invalid => new()
    {
        { "destination", r => r with { Destination = null } },
        { "destination.datasetId", r => r with { Destination = r.Destination! with { DatasetId = null } } },
        { "destination.datasetId", r => r with { Destination = r.Destination! with { DatasetId = "../etc" } } },
        { "destination.datasetId", r => r with { Destination = r.Destination! with { DatasetId = "a'b" } } },
        { "destination.segmentPerBatch", r => r with { Destination = r.Destination! with { SegmentPerBatch = true }, Filter = r.Filter! with { Segments = null } } },
        { "mergePolicy.attributeMerge", r => r with { MergePolicy = r.MergePolicy! with { AttributeMerge = new() { Type = "timestampOrdered" } } } },
        { "mergePolicy.id", r => r with { MergePolicy = r.MergePolicy! with { Id = "a/b" } } },
        { "destination.batchId", r => r with { Destination = r.Destination! with { BatchId = "abc" } } },
        { "schema.name", r => r with { Schema = null } },
        { "schema.name", r => r with { Schema = new SchemaRef { Name = " " } } },
        { "filter.segments", r => r with { Filter = r.Filter! with { Segments = [] } } },
        { "filter.segments[0].segmentId", r => r with { Filter = r.Filter! with { Segments = [new SegmentSelector()] } } },
        { "filter.segments[0].segmentId", r => r with { Filter = r.Filter! with { Segments = [new SegmentSelector { SegmentId = "a/b" }] } } },
        { "filter.segments[0].segmentNs", r => r with { Filter = r.Filter! with { Segments = [new SegmentSelector { SegmentId = "s", SegmentNs = "x#y" }] } } },
        { "filter.segments[0].status[0]", r => r with { Filter = r.Filter! with { Segments = [new SegmentSelector { SegmentId = "s", Status = ["exiting"] }] } } },
        { "filter.segments[0].status", r => r with { Filter = r.Filter! with { Segments = [new SegmentSelector { SegmentId = "s", Status = [] }] } } },
        { "filter.segmentQualificationTime.startTime", r => r with { Filter = r.Filter! with { SegmentQualificationTime = new QualificationWindow { StartTime = "2018-01-01" } } } },
        { "filter.segmentQualificationTime.endTime", r => r with { Filter = r.Filter! with { SegmentQualificationTime = new QualificationWindow { EndTime = "2018-01-01T00:00:00" } } } },
        { "filter.segmentQualificationTime", r => r with { Filter = r.Filter! with { SegmentQualificationTime = new QualificationWindow { StartTime = "2019-01-01T00:00:00Z", EndTime = "2018-01-01T00:00:00Z" } } } },
        { "filter.fromIngestTimestamp", r => r with { Filter = r.Filter! with { FromIngestTimestamp = "yesterday" } } },
        { "fields", r => r with { Fields = "identities.id,,personalEmail" } },
        { "fields", r => r with { Fields = "identities..id" } },
        { "fields", r => r with { Fields = "a b" } },
        { "fields", r => r with { Fields = "a.$b" } },
        { "fields", r => r with { Fields = "segmentMembership.ups.a:b" } },
        { "additionalFields.eventList.filter.toIngestTimestamp", r => r with { AdditionalFields = new AdditionalFields { EventList = new EventList { Filter = new EventWindow { ToIngestTimestamp = "2020-13-01T00:00:00Z" } } } } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void An_invalid_payload_names_the_field(string field, Func<ExportJobRequest, ExportJobRequest> change)
    {
        var problems = ExportJobRequestValidator.Validate(change(Seed()));
        Assert.Contains(problems.Items, p => p.Field == field);
    }

    [Theory]
    [InlineData("_tenant.loyalty-tier,person.name")]
    [InlineData("segmentMembership.ups.52c26d0d-45f2-47a2-ab30-ed06abc981ff")]
    [InlineData("identityMap.ECID-2,_experience.analytics")]
    public void Fields_take_every_legal_XDM_name(string fields) =>
        Assert.Empty(ExportJobRequestValidator.Validate(Seed() with { Fields = fields }).Items);

    [Fact]
    public void Blank_fields_and_a_missing_filter_are_valid()
    {
        Assert.Empty(ExportJobRequestValidator.Validate(Seed() with { Fields = "", Filter = null, AdditionalFields = null, EvaluationInfo = null }).Items);
    }

    [Theory]
    [InlineData("2018-01-01T00:00:00Z", true)]
    [InlineData("2018-01-01T00:00:00.123+02:00", true)]
    [InlineData("2018-01-01t00:00:00z", true)]
    [InlineData("2018-01-01T00:00:00", false)]
    [InlineData("2018-01-01", false)]
    [InlineData("2018-02-30T00:00:00Z", false)]
    [InlineData("01/01/2018 00:00:00Z", false)]
    public void Rfc3339_requires_date_time_and_offset(string text, bool valid) => Assert.Equal(valid, Rfc3339.TryParse(text, out _));
}
