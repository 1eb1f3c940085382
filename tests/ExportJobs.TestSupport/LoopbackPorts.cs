using System.Net;
using System.Net.Sockets;

namespace ExportJobs.TestSupport;

/// <summary>Ports for the tests' own servers on loopback.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// A port the system reports free now. Another socket can take it before a server binds it (the tests' own outgoing
    /// connections take ports of the same range), so a start that finds it in use is tried again on another.
    /// </summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
