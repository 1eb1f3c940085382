using System.Buffers;
using System.Collections.Frozen;
using System.Text.Json;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Core.Segments;

/// <summary>
/// <c>evaluationInfo.segmentation: true</c>: the job's segments, compiled once, evaluated for each merged profile at one
/// evaluation time. A profile that qualifies is <c>realized</c> — since now when it was not before, keeping its
/// <c>lastQualificationTime</c> when it already was; a <c>realized</c> profile that no longer qualifies has <c>exited</c>
/// (its last qualification time kept); one that neither qualifies nor was realized is left as it is.
/// </summary>
public sealed class SegmentEvaluation
{
    /// <summary>The dataset id of the fragments that record evaluated memberships (outside the dataset id character set, so no dataset has it).</summary>
    public const string MembershipDatasetId = "_segmentation";
    /// <summary>Segment definitions, and the memberships evaluation writes, are in the namespace a job's segments default to.</summary>
    public const string Namespace = Jobs.ExportSelection.DefaultSegmentNamespace;
    private const string Realized = Jobs.ExportJobRequestValidator.Realized, Exited = Jobs.ExportJobRequestValidator.Exited;

    private readonly IReadOnlyList<(string Id, CompiledPql Condition)> _segments;
    private readonly DateTimeOffset _now;
    private readonly string _nowText;
    private readonly int _slots;
    private readonly long _budget;

    /// <summary>Evaluation went past its budget of work (see <see cref="PqlContext.Work"/>).</summary>
    public sealed class BudgetExceededException(long budget)
        : Exception($"Segment evaluation did more than its budget of {budget} units of work (quantified elements visited and characters matched) in one shard; simplify the segment definitions or raise ExportJobs:EvaluationBudget.");

    /// <param name="budget">The work this evaluation may do in all (a shard's share of the job's budget).</param>
    public SegmentEvaluation(IReadOnlyList<(string Id, CompiledPql Condition)> segments, DateTimeOffset now, long budget = long.MaxValue)
    {
        _segments = segments;
        _now = now;
        _nowText = Rfc3339.Format(now);
        _slots = segments.Count == 0 ? 0 : segments.Max(s => s.Condition.Slots);
        _budget = budget;
        MembersRead = segments.Any(s => s.Condition.ProfileMembers is null) ? null
            : segments.SelectMany(s => s.Condition.ProfileMembers!).Append(Jobs.ExportSelection.SegmentMembership).ToFrozenSet(StringComparer.Ordinal);
        EventMembersRead = segments.Any(s => s.Condition.EventMembers is null) ? null
            : segments.SelectMany(s => s.Condition.EventMembers!).ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Compiles each segment's expression (the job's snapshot of its definitions).</summary>
    public static SegmentEvaluation Compile(IReadOnlyDictionary<string, string> expressions, DateTimeOffset now, long budget = long.MaxValue) =>
        new(expressions.Select(e => (e.Key, PqlCompiler.Compile(e.Value))).ToList(), now, budget);

    /// <summary>The work done so far.</summary>
    public long Work { get; private set; }

    public bool UsesEvents => _segments.Any(s => s.Condition.UsesEvents);

    /// <summary>
    /// The top-level members of a profile evaluation reads — what its conditions read, and <c>segmentMembership</c>,
    /// whose stored entries it changes — or null when a condition reads the profile whole.
    /// </summary>
    public IReadOnlySet<string>? MembersRead { get; }

    /// <summary>The top-level members of events the conditions read, or null when one uses an event whole.</summary>
    public IReadOnlySet<string>? EventMembersRead { get; }

    /// <summary>
    /// Evaluates every segment for the profile and merges the entries that changed into its <c>segmentMembership.ups</c>;
    /// returns them (a record to keep: <c>{"segmentMembership": {"ups": {…}}}</c>), or null when none changed.
    /// </summary>
    /// <param name="events">The profile's events, read through their documents, which must outlive the call.</param>
    public JsonElement? Apply(MergedProfile profile, IReadOnlyList<MergedValue> events)
    {
        // One context for every segment: the profile's events are listed once. Every condition is evaluated before
        // any membership changes, so that a definition reading segmentMembership sees the stored one.
        var context = new PqlContext(profile.Value, events, _now, _slots);
        var qualifies = new bool[_segments.Count];
        for (int i = 0; i < _segments.Count; i++) qualifies[i] = _segments[i].Condition.Evaluate(context) == true;
        Work += context.Work;
        if (Work > _budget) throw new BudgetExceededException(_budget);
        ArrayBufferWriter<byte>? record = null;
        Utf8JsonWriter? writer = null;
        for (int i = 0; i < _segments.Count; i++)
        {
            bool wasRealized = Jobs.ExportSelection.TryGetMembership(profile.Value, Namespace, _segments[i].Id, out var stored) &&
                               Jobs.ExportSelection.TryGetStatus(stored, out var status) && status.ValueEquals(Realized);
            // Realized now when it was not; exited when it was and no longer qualifies (its time kept); else unchanged.
            if (qualifies[i] == wasRealized) continue;
            if (writer is null)
            {
                writer = new Utf8JsonWriter(record = new ArrayBufferWriter<byte>());
                writer.WriteStartObject();
                writer.WriteStartObject(Jobs.ExportSelection.SegmentMembership);
                writer.WriteStartObject(Namespace);
            }
            writer.WriteStartObject(_segments[i].Id);
            writer.WriteString(Jobs.ExportSelection.StatusMember, qualifies[i] ? Realized : Exited);
            writer.WritePropertyName(Jobs.ExportSelection.QualificationTimeMember);
            if (qualifies[i]) writer.WriteStringValue(_nowText);
            else if (stored.TryGetProperty(Jobs.ExportSelection.QualificationTimeMember, out var time)) time.WriteTo(writer);
            else writer.WriteNullValue();
            writer.WriteEndObject();
        }
        if (writer is null) return null;
        using (writer)
        {
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        var changed = JsonElement.Parse(record!.WrittenSpan);
        // As the next read of the profile will merge the recorded memberships: over everything else.
        profile.MergeNewer(new ProfileFragment(profile.Identity, 0, MembershipDatasetId, "", changed));
        return changed;
    }
}
