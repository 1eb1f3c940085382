using System.Net;
using System.Net.Sockets;

namespace ExportJobs.Core.Jobs;

/// <summary>
/// The addresses a callback may connect to: public unicast only. Refused: unspecified, loopback, private (RFC 1918),
/// shared / CGNAT (100.64/10), link-local (169.254/16 — the cloud metadata address 169.254.169.254 among them —,
/// fe80::/10), unique-local (fc00::/7, which holds fd00:ec2::254), multicast, broadcast, reserved and documentation
/// ranges, and IPv6 forms that carry an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo).
/// </summary>
public static class CallbackAddressRules
{
    private static readonly (IPAddress Network, int Bits)[] RefusedV4 =
    [
        (IPAddress.Parse("0.0.0.0"), 8), (IPAddress.Parse("10.0.0.0"), 8), (IPAddress.Parse("100.64.0.0"), 10),
        (IPAddress.Parse("127.0.0.0"), 8), (IPAddress.Parse("169.254.0.0"), 16), (IPAddress.Parse("172.16.0.0"), 12),
        (IPAddress.Parse("192.0.0.0"), 24), (IPAddress.Parse("192.0.2.0"), 24), (IPAddress.Parse("192.88.99.0"), 24),
        (IPAddress.Parse("192.168.0.0"), 16), (IPAddress.Parse("198.18.0.0"), 15), (IPAddress.Parse("198.51.100.0"), 24),
        (IPAddress.Parse("203.0.113.0"), 24), (IPAddress.Parse("224.0.0.0"), 4), (IPAddress.Parse("240.0.0.0"), 4),
    ];

    private static readonly (IPAddress Network, int Bits)[] RefusedV6 =
    [
        (IPAddress.Parse("::"), 96), // unspecified, loopback and IPv4-compatible
        (IPAddress.Parse("::ffff:0:0"), 96), (IPAddress.Parse("64:ff9b::"), 96), (IPAddress.Parse("64:ff9b:1::"), 48),
        (IPAddress.Parse("100::"), 64), (IPAddress.Parse("2001::"), 32), (IPAddress.Parse("2001:db8::"), 32),
        (IPAddress.Parse("2002::"), 16), (IPAddress.Parse("fc00::"), 7), (IPAddress.Parse("fe80::"), 10),
        (IPAddress.Parse("fec0::"), 10), (IPAddress.Parse("ff00::"), 8),
    ];

    public static bool IsPublic(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => !RefusedV4.Any(r => InRange(address, r.Network, r.Bits)),
        AddressFamily.InterNetworkV6 => !RefusedV6.Any(r => InRange(address, r.Network, r.Bits)),
        _ => false,
    };

    private static bool InRange(IPAddress address, IPAddress network, int bits)
    {
        byte[] a = address.GetAddressBytes(), n = network.GetAddressBytes();
        for (int i = 0; i < bits; i++)
        {
            int mask = 0x80 >> (i % 8);
            if ((a[i / 8] & mask) != (n[i / 8] & mask)) return false;
        }
        return true;
    }
}
