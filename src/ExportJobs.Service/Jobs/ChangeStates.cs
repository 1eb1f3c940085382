using System.Globalization;
using ExportJobs.Core.Profiles;
using ExportJobs.Core.Tenancy;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Jobs;

/// <summary>
/// What an incremental export exported, kept so that the next run can diff against it (docs/api.md, "Incremental
/// exports"): per shard, each member in identity order with a hash of its row and the output batches it was in. Kept
/// in the profiles container at <c>{org}/{sandbox}/changes/job{id}/s{shard}.bin</c>, with <c>complete</c> once the job
/// has succeeded; removed when the job fails, is cancelled or deleted, or when the next run of its schedule succeeds.
/// </summary>
public sealed class ChangeStates(StorageClients clients)
{
    private const string CompleteName = "complete";

    /// <summary>A member as a run exported it: its row's hash and its output batches (indexes in the job's batch order).</summary>
    public sealed record Entry(Identity Identity, ulong Hash, int[] Batches);

    private static string Folder(Tenant tenant, long jobId) => $"{tenant.BlobPrefix}/changes/job{jobId.ToString(CultureInfo.InvariantCulture)}/";

    private static string ShardName(Tenant tenant, long jobId, int shard) => $"{Folder(tenant, jobId)}s{shard.ToString("D4", CultureInfo.InvariantCulture)}.bin";

    public async Task WriteAsync(Tenant tenant, long jobId, int shard, Writer entries, CancellationToken ct) =>
        await clients.Profiles.GetBlobClient(ShardName(tenant, jobId, shard)).UploadAsync(entries.ToBinaryData(), overwrite: true, ct);

    /// <summary>A run's entries of a shard (none when it wrote none there).</summary>
    public async Task<Reader> ReadAsync(Tenant tenant, long jobId, int shard, CancellationToken ct)
    {
        var blob = clients.Profiles.GetBlobClient(ShardName(tenant, jobId, shard));
        try
        {
            return new Reader((await blob.DownloadContentAsync(ct)).Value.Content.ToArray());
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            return new Reader([]);
        }
    }

    public Task MarkCompleteAsync(Tenant tenant, long jobId, CancellationToken ct) =>
        clients.Profiles.GetBlobClient(Folder(tenant, jobId) + CompleteName).UploadAsync(BinaryData.Empty, overwrite: true, ct);

    /// <summary>Whether the job succeeded with its state whole and still kept.</summary>
    public async Task<bool> IsCompleteAsync(Tenant tenant, long jobId, CancellationToken ct) =>
        await clients.Profiles.GetBlobClient(Folder(tenant, jobId) + CompleteName).ExistsAsync(ct);

    public Task DeleteAsync(Tenant tenant, long jobId, CancellationToken ct) => clients.Profiles.DeleteFolderAsync(Folder(tenant, jobId), ct);

    /// <summary>A shard's entries, added in identity order.</summary>
    public sealed class Writer : IDisposable
    {
        private readonly MemoryStream _buffer = new();
        private readonly BinaryWriter _writer;

        public Writer() => _writer = new BinaryWriter(_buffer);

        public void Add(Identity identity, ulong hash, IReadOnlyList<int> batches)
        {
            _writer.Write(identity.Namespace);
            _writer.Write(identity.Id);
            _writer.Write(hash);
            _writer.Write7BitEncodedInt(batches.Count);
            foreach (int batch in batches) _writer.Write7BitEncodedInt(batch);
        }

        public BinaryData ToBinaryData()
        {
            _writer.Flush();
            return BinaryData.FromBytes(_buffer.ToArray());
        }

        public void Dispose() => _writer.Dispose();
    }

    /// <summary>A shard's entries read alongside the shard's identity-ordered stream.</summary>
    public sealed class Reader(byte[] bytes) : IDisposable
    {
        private readonly BinaryReader _reader = new(new MemoryStream(bytes));
        private Entry? _next;
        private bool _started;

        private Entry? Peek()
        {
            if (!_started) (_next, _started) = (ReadOne(), true);
            return _next;
        }

        private Entry? ReadOne()
        {
            if (_reader.BaseStream.Position >= _reader.BaseStream.Length) return null;
            var identity = new Identity(_reader.ReadString(), _reader.ReadString());
            ulong hash = _reader.ReadUInt64();
            var batches = new int[_reader.Read7BitEncodedInt()];
            for (int i = 0; i < batches.Length; i++) batches[i] = _reader.Read7BitEncodedInt();
            return new Entry(identity, hash, batches);
        }

        /// <summary>The entries before <paramref name="identity"/> (all that are left, with null): members the stream no longer holds.</summary>
        public IEnumerable<Entry> Before(Identity? identity)
        {
            while (Peek() is { } entry && (identity is null || IdentityKey.Compare(entry.Identity, identity.Value) < 0))
            {
                _next = ReadOne();
                yield return entry;
            }
        }

        /// <summary>The entry of <paramref name="identity"/>, if the run exported it (after <see cref="Before"/> of it).</summary>
        public Entry? Take(Identity identity)
        {
            if (Peek() is not { } entry || IdentityKey.Compare(entry.Identity, identity) != 0) return null;
            _next = ReadOne();
            return entry;
        }

        public void Dispose() => _reader.Dispose();
    }
}
