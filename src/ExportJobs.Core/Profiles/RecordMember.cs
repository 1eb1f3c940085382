namespace ExportJobs.Core.Profiles;

/// <summary>
/// A top-level member of a record, where its line holds it: its name's text between the quotes (as written: with
/// <see cref="NameEscaped"/>, escapes included) and its value's JSON text. What the parse of an ingested line found, so
/// that storing the record does not read the line again (<see cref="ProfileRecordParser.TryRead"/>).
/// </summary>
public readonly record struct RecordMember(Range Name, Range Value, bool NameEscaped);
