using System.Net;

namespace TcpStore.Server.Admin;

/// <summary>Settings of the admin HTTP listener (<c>tcpstore serve --admin-port</c>).</summary>
public sealed class AdminOptions
{
    /// <summary>Address to listen on (default 127.0.0.1: the page shows who is connected, so it stays local unless asked).</summary>
    public IPAddress Host { get; set; } = IPAddress.Loopback;

    /// <summary>TCP port; 0 picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>Whether a non-loopback <see cref="Host"/> is allowed (it exposes key names and peers to the network).</summary>
    public bool AllowRemote { get; set; }

    /// <summary>Whether key values are shown (off by default: values may hold addresses or secrets).</summary>
    public bool ShowValues { get; set; }

    /// <summary>Throws when the options are inconsistent.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "the admin port must be 0-65535");
        }

        if (!IPAddress.IsLoopback(Host) && !AllowRemote)
        {
            throw new ArgumentException($"the admin listener would bind {Host}, which is not loopback; pass --admin-allow-remote to allow it", nameof(Host));
        }
    }
}
