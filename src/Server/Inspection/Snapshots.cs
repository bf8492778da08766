using TcpStore.Core.Inspection;

namespace TcpStore.Server.Inspection;

/// <summary>Everything an operator sees of a running server at one instant (the admin JSON and page).</summary>
/// <param name="Time">When the snapshot was taken.</param>
/// <param name="StartedAt">When the server started.</param>
/// <param name="Endpoint">The store's listening address.</param>
/// <param name="Connections">Open connections.</param>
/// <param name="Accepted">Connections accepted since start.</param>
/// <param name="Keys">Keys in the store.</param>
/// <param name="AwaitedKeys">Distinct keys that connections wait for.</param>
/// <param name="WaitingConnections">Connections with a pending WAIT.</param>
/// <param name="OldestWaitSeconds">How long the longest pending WAIT has waited.</param>
/// <param name="RequestsTotal">Requests executed since start.</param>
/// <param name="Requests">Requests by query type since start.</param>
/// <param name="BytesIn">Request bytes received since start.</param>
/// <param name="BytesOut">Reply bytes sent since start.</param>
/// <param name="Closed">Closed connections by reason.</param>
/// <param name="WorldSize">The world size the operator gave for this snapshot, if any.</param>
/// <param name="Groups">Rendezvous decoded from PyTorch's key conventions, stalled ones first.</param>
public sealed record ServerSnapshot(
    DateTimeOffset Time,
    DateTimeOffset StartedAt,
    string Endpoint,
    int Connections,
    long Accepted,
    int Keys,
    int AwaitedKeys,
    int WaitingConnections,
    double OldestWaitSeconds,
    long RequestsTotal,
    IReadOnlyDictionary<string, long> Requests,
    long BytesIn,
    long BytesOut,
    IReadOnlyDictionary<string, long> Closed,
    int? WorldSize,
    IReadOnlyList<RendezvousGroup> Groups);

/// <summary>One open connection.</summary>
/// <param name="Id">The connection's number.</param>
/// <param name="Peer">The client's address.</param>
/// <param name="ConnectedAt">When it was accepted.</param>
/// <param name="ConnectedSeconds">For how long.</param>
/// <param name="IdleSeconds">Since its last request (null: none yet).</param>
/// <param name="Requests">Requests executed.</param>
/// <param name="RequestsByType">Requests by query type (non-zero only).</param>
/// <param name="BytesIn">Request bytes received.</param>
/// <param name="BytesOut">Reply bytes sent.</param>
/// <param name="Group">The rendezvous group its rank key belongs to, when known.</param>
/// <param name="Rank">Its rank in <paramref name="Group"/>, when known.</param>
/// <param name="WaitingFor">The keys its pending WAIT still needs.</param>
/// <param name="WaitingSeconds">How long that WAIT has waited (null: not waiting).</param>
public sealed record ClientSnapshot(
    long Id,
    string Peer,
    DateTimeOffset ConnectedAt,
    double ConnectedSeconds,
    double? IdleSeconds,
    long Requests,
    IReadOnlyDictionary<string, long> RequestsByType,
    long BytesIn,
    long BytesOut,
    string? Group,
    int? Rank,
    IReadOnlyList<string> WaitingFor,
    double? WaitingSeconds);

/// <summary>One connection with a pending WAIT.</summary>
/// <param name="ConnectionId">The connection's number.</param>
/// <param name="Peer">The client's address.</param>
/// <param name="Group">Its rendezvous group, when known.</param>
/// <param name="Rank">Its rank, when known.</param>
/// <param name="Keys">The keys it still waits for.</param>
/// <param name="Since">When its WAIT started.</param>
/// <param name="WaitingSeconds">For how long.</param>
public sealed record WaiterSnapshot(
    long ConnectionId,
    string Peer,
    string? Group,
    int? Rank,
    IReadOnlyList<string> Keys,
    DateTimeOffset Since,
    double WaitingSeconds);

/// <summary>One key of the store.</summary>
/// <param name="Key">The key, escaped where not printable.</param>
/// <param name="Size">Its value's length in bytes.</param>
/// <param name="Value">The value, escaped; null unless values are shown (<c>--admin-show-values</c>).</param>
public sealed record KeySnapshot(string Key, int Size, string? Value);

/// <summary>The full inspection: summary, clients, waiters by age (oldest first).</summary>
/// <param name="Server">The summary and groups.</param>
/// <param name="Clients">Open connections.</param>
/// <param name="Waiters">Pending WAITs, oldest first.</param>
public sealed record InspectionSnapshot(ServerSnapshot Server, IReadOnlyList<ClientSnapshot> Clients, IReadOnlyList<WaiterSnapshot> Waiters);
