using System.Buffers;
using System.IO.Hashing;
using System.Numerics;
using System.Text;
using ExportJobs.Core.Profiles;
using ExportJobs.Service.Storage;

namespace ExportJobs.Service.Identities;

/// <summary>
/// Identities with a value each, held compactly: a <c>pdg</c> export's route and export stage hold, per shard they read,
/// the build's rows of the shard — each identity that is not its graph's primary with its primary (<see cref="PrimaryOf"/>),
/// each graph's primary with its <c>identityMap</c> record (<see cref="TryGetValue"/>) — and as dictionaries of identity
/// strings and arrays they were the largest part of its memory (docs/performance.md). Each identity and its value are
/// kept in one growing buffer, the identity as its namespace's number and its id's UTF-8; an identity is found by a
/// 64-bit hash of those bytes and checked byte for byte, so two identities with one hash are both kept. Its arrays are
/// rented (<see cref="Buffers"/>) and go back when it is disposed.
/// </summary>
public sealed class IdentityTable : IDisposable
{
    /// <summary>
    /// The tables' arrays (buffer, entries, slots), each of several MB and grown by doubling: an export stage makes two
    /// tables per partition and a route one per shard, and allocated anew they were most of the large-object
    /// allocations of both (in an allocation trace at N = 1,000,000, 107 MB in 8 s of a route), each few MB of which set
    /// off a full collection of the heap. Four of a size are kept, for two stage reads' tables at once.
    /// </summary>
    private static readonly IdleTrimmedArrayPool<byte> Buffers = new(maxArrayLength: 1 << 27, maxArraysPerSize: 4);
    private static readonly IdleTrimmedArrayPool<Entry> EntryArrays = new(maxArrayLength: 1 << 23, maxArraysPerSize: 4);
    private static readonly IdleTrimmedArrayPool<Slot> SlotArrays = new(maxArrayLength: 1 << 24, maxArraysPerSize: 4);

    /// <summary>The hash an identity is found by; replaceable so that a test can make identities collide.</summary>
    internal delegate long KeyHash(ReadOnlySpan<byte> key);

    private readonly KeyHash _hash;
    private readonly Dictionary<string, int> _namespaceNumbers = new(StringComparer.Ordinal);
    private readonly List<string> _namespaces = [];
    /// <summary>The namespaces of the identities added (not of the values added with them).</summary>
    private readonly HashSet<string> _keyNamespaces = new(StringComparer.Ordinal);
    private Entry[] _entries;
    private int _count;
    /// <summary>
    /// Open addressing over the entries, probed one slot after another from a hash's low bits, at most half full: a
    /// slot holds the hash's high 32 bits, so a lookup touches the buffer only for an identity whose hash agrees in
    /// both. Each shard read looks up every row's identity, so this is a hot path of a <c>pdg</c> export; 8 bytes a
    /// slot, as the slots are the table's largest array after its buffer (4 MB of 16-byte slots per shard at N = 1,000,000).
    /// </summary>
    private Slot[] _slots;
    private byte[] _bytes;
    private int _used;

    /// <summary>Where an identity's key and its value are in the buffer.</summary>
    private record struct Entry(int Start, int KeyLength, int ValueLength);

    /// <summary>An entry's hash's high 32 bits and its number plus one (0: an empty slot).</summary>
    private readonly record struct Slot(int Tag, int EntryPlusOne);

    /// <summary>
    /// A table whose identities and values come to about <paramref name="bytes"/>, about <paramref name="rows"/> of
    /// them: its buffer, entries and slots are rented once at those sizes (grown by doubling beyond them), as each read
    /// of a <c>pdg</c> export makes its tables anew, of many MB each — grown from small, every size rented on the way
    /// stayed in the pools too.
    /// </summary>
    public IdentityTable(long bytes = 64 * 1024, int rows = 0) : this(key => (long)XxHash64.HashToUInt64(key), bytes, rows) { }

    internal IdentityTable(KeyHash hash, long bytes = 64 * 1024, int rows = 0)
    {
        rows = Math.Clamp(rows, 64, 1 << 26);
        (_hash, _bytes) = (hash, Buffers.Rent((int)Math.Clamp(bytes, 1024, Array.MaxLength)));
        _entries = EntryArrays.Rent(rows);
        _slots = NewSlots((int)BitOperations.RoundUpToPowerOf2((uint)(rows + 1) * 2));
    }

    public int Count => _count;

    /// <summary>
    /// Adds an identity with another (its primary: <see cref="PrimaryOf"/>), the ids as UTF-8 (as a build's files hold
    /// them: a table is loaded without making strings); an identity added again takes the newer value.
    /// </summary>
    public void AddPrimary(string ns, ReadOnlySpan<byte> id, string primaryNs, ReadOnlySpan<byte> primaryId)
    {
        _keyNamespaces.Add(ns);
        int start = _used;
        int keyLength = Append(ns, id);
        Enter(start, keyLength, Append(primaryNs, primaryId));
    }

    /// <summary>Adds an identity, its id as UTF-8, with bytes of its own (<see cref="TryGetValue"/>); an identity added again takes the newer value.</summary>
    public void AddValue(string ns, ReadOnlySpan<byte> id, ReadOnlySpan<byte> value)
    {
        _keyNamespaces.Add(ns);
        int start = _used;
        int keyLength = Append(ns, id);
        Reserve(value.Length);
        value.CopyTo(_bytes.AsSpan(_used));
        _used += value.Length;
        Enter(start, keyLength, value.Length);
    }

    private void Enter(int start, int keyLength, int valueLength)
    {
        int found = Find(_bytes.AsSpan(start, keyLength), out long hash);
        if (found >= 0)
        {
            _entries[found] = _entries[found] with { Start = start, ValueLength = valueLength };
            return;
        }
        if (_count == _entries.Length) _entries = PooledArrays.Grown(EntryArrays, _entries, _count, _count * 2);
        if ((_count + 1) * 2 > _slots.Length) Rehash(_slots.Length * 2);
        _entries[_count++] = new Entry(start, keyLength, valueLength);
        Place(hash, _count);
    }

    private static int Tag(long hash) => (int)(hash >>> 32);

    private void Place(long hash, int entryPlusOne)
    {
        int mask = _slots.Length - 1;
        int at = (int)hash & mask;
        while (_slots[at].EntryPlusOne != 0) at = (at + 1) & mask;
        _slots[at] = new Slot(Tag(hash), entryPlusOne);
    }

    /// <summary>The slots anew at <paramref name="size"/>, each entry placed again by its key's hash (a slot keeps only the hash's high bits).</summary>
    private void Rehash(int size)
    {
        SlotArrays.Return(_slots);
        _slots = NewSlots(size);
        for (int entry = 0; entry < _count; entry++)
            Place(_hash(_bytes.AsSpan(_entries[entry].Start, _entries[entry].KeyLength)), entry + 1);
    }

    public bool Contains(string ns, string id) => Find(ns, id) >= 0;

    /// <summary>Whether an identity of the namespace was added (an identity's, not a primary's or a value's).</summary>
    public bool HoldsAnyOf(string ns) => _keyNamespaces.Contains(ns);

    /// <summary>The identity an identity was added with.</summary>
    public Identity PrimaryOf(string ns, string id)
    {
        int found = Find(ns, id);
        if (found < 0) throw new KeyNotFoundException($"The identity {ns}:{id} is not in the table.");
        return Decode(ValueAt(found).Span);
    }

    /// <summary>The bytes an identity was added with, valid until the next <see cref="AddValue"/>.</summary>
    public bool TryGetValue(string ns, string id, out ReadOnlyMemory<byte> value)
    {
        int found = Find(ns, id);
        value = found < 0 ? default : ValueAt(found);
        return found >= 0;
    }

    private ReadOnlyMemory<byte> ValueAt(int entry) =>
        _bytes.AsMemory(_entries[entry].Start + _entries[entry].KeyLength, _entries[entry].ValueLength);

    private int Find(string ns, string id)
    {
        if (!_namespaceNumbers.TryGetValue(ns, out int number)) return -1;
        int most = 5 + Encoding.UTF8.GetMaxByteCount(id.Length);
        byte[]? rented = null;
        Span<byte> key = most <= 512 ? stackalloc byte[most] : (rented = ArrayPool<byte>.Shared.Rent(most));
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
        int mask = _slots.Length - 1;
        int tag = Tag(hash);
        for (int at = (int)hash & mask; _slots[at].EntryPlusOne is var plusOne and not 0; at = (at + 1) & mask)
            if (_slots[at].Tag == tag && _bytes.AsSpan(_entries[plusOne - 1].Start, _entries[plusOne - 1].KeyLength).SequenceEqual(key)) return plusOne - 1;
        return -1;
    }

    /// <summary>Writes an identity at the end of the buffer (its namespace's number, then its id's UTF-8); returns its length.</summary>
    private int Append(string ns, ReadOnlySpan<byte> id)
    {
        if (!_namespaceNumbers.TryGetValue(ns, out int number))
        {
            _namespaceNumbers[ns] = number = _namespaces.Count;
            _namespaces.Add(ns);
        }
        Reserve(5 + id.Length);
        int length = EncodeNumber(number, _bytes.AsSpan(_used));
        id.CopyTo(_bytes.AsSpan(_used + length));
        _used += length + id.Length;
        return length + id.Length;
    }

    private void Reserve(int bytes)
    {
        if (_bytes.Length - _used < bytes) _bytes = PooledArrays.Grown(Buffers, _bytes, _used, Math.Max(_bytes.Length * 2, _used + bytes));
    }

    /// <summary>Empty slots, <paramref name="size"/> of them (a power of two: a rented array of it is that long).</summary>
    private static Slot[] NewSlots(int size)
    {
        var slots = SlotArrays.Rent(size);
        Array.Clear(slots);
        return slots;
    }

    /// <summary>Returns the table's arrays; it is not to be used after.</summary>
    public void Dispose()
    {
        Buffers.Return(_bytes);
        EntryArrays.Return(_entries);
        SlotArrays.Return(_slots);
        (_bytes, _entries, _slots, _count, _used) = ([], [], [], 0, 0);
    }

    private static int Encode(int number, string id, Span<byte> into)
    {
        int length = EncodeNumber(number, into);
        return length + Encoding.UTF8.GetBytes(id, into[length..]);
    }

    /// <summary>A namespace's number, 7 bits a byte, low bits first; returns its length.</summary>
    private static int EncodeNumber(int number, Span<byte> into)
    {
        int length = 0;
        for (uint rest = (uint)number; ; rest >>= 7)
        {
            into[length++] = (byte)(rest < 0x80 ? rest : (rest & 0x7F) | 0x80);
            if (rest < 0x80) return length;
        }
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
