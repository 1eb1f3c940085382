using ExportJobs.Core.Jobs;

namespace ExportJobs.Core.Schemas;

/// <summary>
/// The fields every record may carry whatever its dataset's schema says, because the service itself reads them:
/// <c>identityMap</c> and <c>segmentMembership</c> on profiles; <c>identityMap</c>, <c>_id</c> and <c>timestamp</c> on events.
/// </summary>
public static class SystemFields
{
    private static readonly SchemaNode IdentityMap = SchemaNode.Of(SchemaKind.Map, SchemaNode.Of(SchemaKind.Array, SchemaNode.Of(SchemaKind.Object, properties: new()
    {
        ["id"] = SchemaNode.Of(SchemaKind.String),
        ["primary"] = SchemaNode.Of(SchemaKind.Boolean),
        ["authenticatedState"] = SchemaNode.Of(SchemaKind.String),
    })));

    private static readonly SchemaNode SegmentMembership = SchemaNode.Of(SchemaKind.Map, SchemaNode.Of(SchemaKind.Map, SchemaNode.Of(SchemaKind.Object, properties: new()
    {
        [ExportSelection.StatusMember] = SchemaNode.Of(SchemaKind.String),
        [ExportSelection.QualificationTimeMember] = SchemaNode.Of(SchemaKind.DateTime),
    })));

    public static SchemaNode ForProfiles(SchemaNode definition) =>
        definition.With(Profiles.IdentityMap.Member, IdentityMap).With(ExportSelection.SegmentMembership, SegmentMembership);

    public static SchemaNode ForEvents(SchemaNode definition) =>
        definition.With(Profiles.IdentityMap.Member, IdentityMap).With("_id", SchemaNode.Of(SchemaKind.String)).With("timestamp", SchemaNode.Of(SchemaKind.DateTime));
}
