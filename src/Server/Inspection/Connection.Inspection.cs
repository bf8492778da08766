using TcpStore.Core;

namespace TcpStore.Server;

/// <summary>What operators' tools read of a connection (the rest of the class is the request path).</summary>
internal abstract partial class Connection
{
    private static long s_nextId;

    /// <summary>A number unique within the process, shown by <c>tcpstore clients</c>.</summary>
    public long InspectionId { get; private set; } = Interlocked.Increment(ref s_nextId);

    /// <summary><see cref="Environment.TickCount64"/> when the connection was accepted.</summary>
    public long ConnectedTicks { get; private set; } = Environment.TickCount64;

    /// <summary>The protocol session, for reading its counters and matching it to wait registrations.</summary>
    public Session InspectedSession => Session;

    /// <summary>Whether the connection has closed (its peer can no longer be read safely).</summary>
    public bool InspectedClosed => IsClosed;

    /// <summary>
    /// Makes the inspection state that of a newly accepted connection: a new number, connected now,
    /// no counters. The one call a transport that reuses connection objects needs, after the server
    /// has folded the old counters into its totals (<see cref="TcpStoreServer"/> does on close).
    /// </summary>
    public void ResetInspection()
    {
        InspectionId = Interlocked.Increment(ref s_nextId);
        ConnectedTicks = Environment.TickCount64;
        Session.Stats?.Reset();
    }
}
