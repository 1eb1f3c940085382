using System.Net;
using System.Net.Sockets;
using ExportJobs.Core.Jobs;

namespace ExportJobs.Service.Workflow;

/// <summary>Resolves a host name to addresses (DNS in the service; a fixed table in tests).</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct);
}

public sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);
}

/// <summary>
/// The connections callbacks are posted over. The address is checked where the socket connects, after the name is
/// resolved, and the socket connects to that very address: a name that resolves (or is rebound) to a loopback,
/// private, link-local or metadata address is refused before any byte is sent (<see cref="CallbackAddressRules"/>;
/// loopback only where <c>allowLoopback</c>). No proxy (it would connect elsewhere) and no redirects (a callback goes
/// where its URL says, never where an answer points).
/// </summary>
public static class CallbackConnector
{
    public sealed class AddressRefusedException(string host) : IOException($"The callback host '{host}' resolves to no address a callback may reach.");

    public static SocketsHttpHandler CreateHandler(IHostResolver resolver, bool allowLoopback) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        ConnectCallback = (context, ct) => ConnectAsync(resolver, allowLoopback, context.DnsEndPoint, ct),
    };

    public static async ValueTask<Stream> ConnectAsync(IHostResolver resolver, bool allowLoopback, DnsEndPoint endpoint, CancellationToken ct)
    {
        var addresses = IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var literal) ? [literal] : await resolver.ResolveAsync(endpoint.Host, ct);
        var allowed = addresses.Where(a => CallbackAddressRules.IsPublic(a) || (allowLoopback && IPAddress.IsLoopback(a) && !a.IsIPv4MappedToIPv6)).ToList();
        if (allowed.Count == 0) throw new AddressRefusedException(endpoint.Host);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed[0], endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
