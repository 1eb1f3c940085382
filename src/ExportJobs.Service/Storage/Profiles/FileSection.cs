using Azure;

namespace ExportJobs.Service.Storage.Profiles;

/// <summary>
/// A fragment file: a blob (<see cref="Offset"/> 0, <see cref="Length"/> its size), or a section of one (a route of a
/// <c>pdg</c> export writes its files for every partition into one blob); of the blob's <see cref="Version"/> (its ETag)
/// when known, which a host's copy of it must be of (<see cref="FragmentFileCache"/>). <see cref="ChunkLength"/>: for a
/// section of a chunk file (an ingested chunk's files of every shard, <see cref="ProfileStore"/>), the chunk file's
/// bytes, which the host's copy of it holds (else 0).
/// </summary>
internal readonly record struct FileSection(string Name, long Offset, long Length, ETag? Version = null, long ChunkLength = 0)
{
    public bool OfChunk => ChunkLength > 0;
}
