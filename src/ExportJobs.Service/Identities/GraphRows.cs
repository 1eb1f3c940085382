using ExportJobs.Core.Identities;
using ExportJobs.Core.Profiles;

namespace ExportJobs.Service.Identities;

/// <summary>
/// A row of the graph build's files (<see cref="GraphFiles"/>), in a binary form of its own: a file is its row count,
/// then its rows, each field after the other, a namespace written once per file and then by its number.
/// </summary>
public interface IGraphRow<TSelf> where TSelf : IGraphRow<TSelf>
{
    void WriteTo(GraphRowWriter writer);

    static abstract TSelf ReadFrom(GraphRowReader reader);
}

public sealed class GraphRowWriter(BinaryWriter writer)
{
    private readonly Dictionary<string, int> _namespaces = new(StringComparer.Ordinal);

    public void Namespace(string ns)
    {
        if (_namespaces.TryGetValue(ns, out int number))
        {
            writer.Write7BitEncodedInt(number + 1);
            return;
        }
        writer.Write7BitEncodedInt(0);
        writer.Write(ns);
        _namespaces[ns] = _namespaces.Count;
    }

    public void Text(string text) => writer.Write(text);

    public void Number(long value) => writer.Write(value);

    public void Bytes(byte[] bytes)
    {
        writer.Write7BitEncodedInt(bytes.Length);
        writer.Write(bytes);
    }
}

public sealed class GraphRowReader(BinaryReader reader)
{
    private readonly List<string> _namespaces = [];

    /// <summary>
    /// Moves to a row of the file at <paramref name="offset"/>, once the file has been read through to its end (so that
    /// every namespace number is known). A row that first named a namespace names it again; the name is added again,
    /// after the numbers in use, and never looked up.
    /// </summary>
    public GraphRowReader At(long offset)
    {
        reader.BaseStream.Position = offset;
        return this;
    }

    /// <summary>Where the next row begins.</summary>
    public long Offset => reader.BaseStream.Position;

    public void SkipText() => reader.BaseStream.Seek(reader.Read7BitEncodedInt(), SeekOrigin.Current);

    public void SkipNumber() => reader.BaseStream.Seek(sizeof(long), SeekOrigin.Current);

    public string Namespace()
    {
        int number = reader.Read7BitEncodedInt();
        if (number > 0) return _namespaces[number - 1];
        string ns = reader.ReadString();
        _namespaces.Add(ns);
        return ns;
    }

    public string Text() => reader.ReadString();

    /// <summary>A text's UTF-8, in place in a file's buffer (<see cref="GraphFiles.PooledFile"/>): valid while the file is held.</summary>
    public ReadOnlySpan<byte> TextUtf8() => InPlace(reader.Read7BitEncodedInt());

    public long Number() => reader.ReadInt64();

    public byte[] Bytes() => reader.ReadBytes(reader.Read7BitEncodedInt());

    /// <summary>As <see cref="Bytes"/>, in place as <see cref="TextUtf8"/> is.</summary>
    public ReadOnlySpan<byte> BytesInPlace() => InPlace(reader.Read7BitEncodedInt());

    private ReadOnlySpan<byte> InPlace(int length)
    {
        if (reader.BaseStream is not MemoryStream stream || !stream.TryGetBuffer(out var buffer))
            throw new InvalidOperationException("Only a file held in a buffer is read in place.");
        var bytes = buffer.AsSpan((int)stream.Position, length);
        stream.Position += length;
        return bytes;
    }
}

/// <summary>A link as a partition of the graph build keeps it: from an identity of the partition to another.</summary>
public sealed record LinkRow(string Ns, string Id, string ToNs, string ToId, long Time, long Order) : IGraphRow<LinkRow>
{
    /// <summary>The link from one of its identities to the other, as of the link.</summary>
    public static LinkRow Of(Identity from, Identity to, IdentityLink link) => new(from.Namespace, from.Id, to.Namespace, to.Id, link.IngestTimeMs, link.Order);

    public void WriteTo(GraphRowWriter writer)
    {
        writer.Namespace(Ns);
        writer.Text(Id);
        writer.Namespace(ToNs);
        writer.Text(ToId);
        writer.Number(Time);
        writer.Number(Order);
    }

    public static LinkRow ReadFrom(GraphRowReader reader) => new(reader.Namespace(), reader.Text(), reader.Namespace(), reader.Text(), reader.Number(), reader.Number());

    /// <summary>A row's two identities, the ids in place (<see cref="GraphRowReader.TextUtf8"/>), the rest of the row skipped.</summary>
    public static void ReadIdentities(GraphRowReader reader, out string ns, out ReadOnlySpan<byte> id, out string toNs, out ReadOnlySpan<byte> toId)
    {
        ns = reader.Namespace();
        id = reader.TextUtf8();
        toNs = reader.Namespace();
        toId = reader.TextUtf8();
        reader.SkipNumber();
        reader.SkipNumber();
    }
}

/// <summary>A link with the label of its component (the smallest fingerprint of its identities), as the rules stage reads it.</summary>
public sealed record ComponentLinkRow(long Label, LinkRow Link) : IGraphRow<ComponentLinkRow>
{
    public void WriteTo(GraphRowWriter writer)
    {
        writer.Number(Label);
        Link.WriteTo(writer);
    }

    public static ComponentLinkRow ReadFrom(GraphRowReader reader) => new(reader.Number(), LinkRow.ReadFrom(reader));

    /// <summary>The label of the row the reader is at, the reader moved past the row (its texts not made).</summary>
    public static long LabelOf(GraphRowReader reader)
    {
        long label = reader.Number();
        reader.Namespace();
        reader.SkipText();
        reader.Namespace();
        reader.SkipText();
        reader.SkipNumber();
        reader.SkipNumber();
        return label;
    }
}

/// <summary>An identity that is not its graph's primary, with the primary.</summary>
public sealed record PairRow(Identity Identity, Identity To) : IGraphRow<PairRow>
{
    public void WriteTo(GraphRowWriter writer)
    {
        writer.Namespace(Identity.Namespace);
        writer.Text(Identity.Id);
        writer.Namespace(To.Namespace);
        writer.Text(To.Id);
    }

    public static PairRow ReadFrom(GraphRowReader reader) => new(new(reader.Namespace(), reader.Text()), new(reader.Namespace(), reader.Text()));

    /// <summary>Reads a row into a table, its identity with its primary (<see cref="IdentityTable.PrimaryOf"/>), making no string of its ids.</summary>
    public static void AddTo(IdentityTable table, GraphRowReader reader)
    {
        string ns = reader.Namespace();
        var id = reader.TextUtf8();
        string toNs = reader.Namespace();
        table.AddPrimary(ns, id, toNs, reader.TextUtf8());
    }
}

/// <summary>A graph of more than one identity: its primary, and its identities (<see cref="GraphIdentities"/>).</summary>
public sealed record GraphRow(Identity Primary, byte[] Identities) : IGraphRow<GraphRow>
{
    public void WriteTo(GraphRowWriter writer)
    {
        writer.Namespace(Primary.Namespace);
        writer.Text(Primary.Id);
        writer.Bytes(Identities);
    }

    public static GraphRow ReadFrom(GraphRowReader reader) => new(new(reader.Namespace(), reader.Text()), reader.Bytes());

    /// <summary>Reads a row into a table, its primary with its identities (<see cref="IdentityTable.TryGetValue"/>), making no string or array of it.</summary>
    public static void AddTo(IdentityTable table, GraphRowReader reader)
    {
        string ns = reader.Namespace();
        var id = reader.TextUtf8();
        table.AddValue(ns, id, reader.BytesInPlace());
    }
}
