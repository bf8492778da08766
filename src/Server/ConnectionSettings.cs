using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>
/// What every connection of one server needs from its options, resolved once at start so that a
/// connection holds one reference instead of a copy of each setting (idle budget: 2 KiB).
/// </summary>
internal sealed class ConnectionSettings
{
    public ConnectionSettings(KeyValueStore store, TcpStoreServerOptions options)
    {
        Store = store;
        Limits = options.CodecLimits;
        MaxBuffered = options.MaxBufferedBytesPerConnection;
        // A high-water mark above the buffer limit could never be reached before the limit closes
        // the connection, so the limit caps it.
        HighWater = Math.Min(options.OutputHighWaterBytes, options.MaxBufferedBytesPerConnection);
        LowWater = HighWater / 2;
    }

    public KeyValueStore Store { get; }

    /// <summary>
    /// Sockets transport: turns for busy connections (those that spent a pass budget and still have
    /// input). They take turns through it, in order, so that however many pipeline at once, at most
    /// this many keep thread-pool threads busy and a client that just sent one request is served next.
    /// </summary>
    public SemaphoreSlim BusyTurns { get; } = new(TcpStoreServerOptions.DefaultEventLoops);

    public CodecLimits Limits { get; }

    /// <summary>Most bytes a connection may hold (unread input plus unsent output).</summary>
    public long MaxBuffered { get; }

    /// <summary>Unsent output at or above which the connection is not read.</summary>
    public long HighWater { get; }

    /// <summary>Unsent output below which a paused connection is read again.</summary>
    public long LowWater { get; }
}
