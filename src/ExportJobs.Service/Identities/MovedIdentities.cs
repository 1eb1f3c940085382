using System.Buffers;
using System.IO.Hashing;
using System.Text;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// The identities of a shard that are not their graph's primary, each with its primary (a build's <c>map/</c> rows of
/// the shard), held compactly: a <c>pdg</c> export's route and export stage hold one per shard they read, and as a
/// dictionary of identity strings they were the largest part of its memory (docs/performance.md). Each identity and
/// its primary are kept as UTF-8 in one growing buffer, a namespace by its number; an identity is found by a 64-bit
/// hash of its bytes and checked byte for byte, so two identities with one hash are both kept.
/// </summary>
public sealed class MovedIdentities
{
    /// <summary>The hash an identity is found by; replaceable so that a test can make every identity collide.</summary>
    internal delegate long KeyHash(ReadOnlySpan<byte> key);

    private readonly KeyHash _hash;
    private readonly Dictionary<string, int> _namespaceNumbers = new(StringComparer.Ordinal);
    private readonly List<string> _namespaces = [];
    private readonly Dictionary<long, int> _firstOf = [];
    private readonly List<Entry> _entries = [];
    private byte[] _bytes = new byte[64 * 1024];
    private int _used;

    /// <summary>Where an identity's key and its primary are in the buffer, and the next entry of the same hash (or -1).</summary>
    private readonly record struct Entry(int Start, int KeyLength, int PrimaryLength, int Next);

    public MovedIdentities() : this(key => (long)XxHash64.HashToUInt64(key)) { }

    internal MovedIdentities(KeyHash hash) => _hash = hash;

    public int Count => _entries.Count;

    /// <summary>Adds an identity with its primary; an identity added again takes the newer primary.</summary>
    public void Add(Identity identity, Identity primary)
    {
        int start = _used;
        int keyLength = Append(identity);
        int primaryLength = Append(primary);
        var key = _bytes.AsSpan(start, keyLength);
        int found = Find(key, out long hash);
        if (found >= 0)
        {
            _entries[found] = _entries[found] with { Start = start, PrimaryLength = primaryLength };
            return;
        }
        _entries.Add(new Entry(start, keyLength, primaryLength, _firstOf.TryGetValue(hash, out int first) ? first : -1));
        _firstOf[hash] = _entries.Count - 1;
    }

    public bool Contains(string ns, string id) => Find(ns, id) >= 0;

    /// <summary>The primary of an identity this holds.</summary>
    public Identity PrimaryOf(string ns, string id)
    {
        int found = Find(ns, id);
        if (found < 0) throw new KeyNotFoundException($"The identity {ns}:{id} is not one that moves.");
        var entry = _entries[found];
        return Decode(_bytes.AsSpan(entry.Start + entry.KeyLength, entry.PrimaryLength));
    }

    private int Find(string ns, string id)
    {
        if (!_namespaceNumbers.TryGetValue(ns, out int number)) return -1;
        int most = 5 + Encoding.UTF8.GetMaxByteCount(id.Length);
        byte[]? rented = null;
        Span<byte> key = most <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(most));
        try
        {
            return Find(key[..Encode(number, id, key)], out _);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private int Find(ReadOnlySpan<byte> key, out long hash)
    {
        hash = _hash(key);
        if (!_firstOf.TryGetValue(hash, out int index)) return -1;
        for (; index >= 0; index = _entries[index].Next)
            if (_bytes.AsSpan(_entries[index].Start, _entries[index].KeyLength).SequenceEqual(key)) return index;
        return -1;
    }

    /// <summary>Writes an identity at the end of the buffer (its namespace's number, then its id); returns its length.</summary>
    private int Append(Identity identity)
    {
        if (!_namespaceNumbers.TryGetValue(identity.Namespace, out int number))
        {
            _namespaceNumbers[identity.Namespace] = number = _namespaces.Count;
            _namespaces.Add(identity.Namespace);
        }
        int most = 5 + Encoding.UTF8.GetMaxByteCount(identity.Id.Length);
        if (_bytes.Length - _used < most) Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + most));
        int length = Encode(number, identity.Id, _bytes.AsSpan(_used));
        _used += length;
        return length;
    }

    private static int Encode(int number, string id, Span<byte> into)
    {
        int length = 0;
        for (uint rest = (uint)number; ; rest >>= 7)
        {
            into[length++] = (byte)(rest < 0x80 ? rest : (rest & 0x7F) | 0x80);
            if (rest < 0x80) break;
        }
        return length + Encoding.UTF8.GetBytes(id, into[length..]);
    }

    private Identity Decode(ReadOnlySpan<byte> bytes)
    {
        int number = 0, length = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = bytes[length++];
            number |= (b & 0x7F) << shift;
            if (b < 0x80) break;
        }
        return new Identity(_namespaces[number], Encoding.UTF8.GetString(bytes[length..]));
    }
}
