using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Core.Inspection;
using TcpStore.Server.Inspection;

namespace TcpStore.Server;

/// <summary>Inspection: read-only snapshots of connections, waits and rendezvous for operators' tools.</summary>
public sealed partial class TcpStoreServer
{
    private static readonly QueryType[] QueryTypes = Enum.GetValues<QueryType>();
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;
    private readonly Lock _retiredLock = new();
    private readonly long[] _retiredRequests = new long[SessionStats.TypeSlots];
    private long _retiredBytesIn;
    private long _retiredBytesOut;
    private long _retiredCompareSets;
    private InspectionMetrics? _inspectionMetrics;

    /// <summary>Requests, bytes and torchrun compare-and-sets since start: closed connections' totals plus the open ones' counters.</summary>
    public RequestTotals Totals()
    {
        var requests = new long[SessionStats.TypeSlots];
        long bytesIn, bytesOut, compareSets;
        lock (_retiredLock)
        {
            _retiredRequests.CopyTo(requests, 0);
            bytesIn = _retiredBytesIn;
            bytesOut = _retiredBytesOut;
            compareSets = _retiredCompareSets;
        }

        foreach (var connection in _connections.Keys)
        {
            connection.InspectedSession.Stats?.AddTo(requests, ref bytesIn, ref bytesOut, ref compareSets);
        }

        var byType = new Dictionary<string, long>();
        foreach (var type in QueryTypes)
        {
            byType[type.ToString()] = requests[Math.Min((int)type, SessionStats.TypeSlots - 1)];
        }

        return new RequestTotals(byType, requests.Sum(), bytesIn, bytesOut, compareSets);
    }

    /// <summary>
    /// Takes a snapshot of the server: summary, rendezvous groups (with <paramref name="worldSize"/>
    /// applied when given), clients and waiters. Takes the store's lock only to copy the wait registry.
    /// </summary>
    public InspectionSnapshot Inspect(int? worldSize = null)
    {
        var now = Environment.TickCount64;
        var wallNow = DateTimeOffset.UtcNow;
        var connections = _connections.Keys.Where(c => !c.InspectedClosed).OrderBy(c => c.InspectionId).ToList();
        var bySession = connections.ToDictionary(c => (Waiter)c.InspectedSession);
        var registrations = Store.WaitRegistrations();
        var waits = new List<InspectedWait>(registrations.Count);
        foreach (var entry in registrations)
        {
            if (bySession.TryGetValue(entry.Waiter, out var owner))
            {
                waits.Add(new InspectedWait(owner.InspectionId, entry.Key, entry.SinceTicks));
            }
        }

        var totals = Totals();
        var hashes = new Dictionary<long, int>();
        foreach (var connection in connections)
        {
            if (connection.InspectedSession.Stats is { LastRankKeyHash: not 0 } stats)
            {
                hashes[connection.InspectionId] = stats.LastRankKeyHash;
            }
        }

        var report = RendezvousDecoder.Decode(new RendezvousInput
        {
            Keys = Store.Keys(),
            ReadValue = key => Store.Get(key),
            Waits = waits,
            RankKeyHashes = hashes,
            NowTicks = now,
            WorldSize = worldSize,
            RendezvousCompareSets = totals.RendezvousCompareSets,
        });

        var waitsByConnection = waits.GroupBy(w => w.ConnectionId).ToDictionary(g => g.Key, g => g.ToList());
        var clients = new List<ClientSnapshot>(connections.Count);
        var waiters = new List<WaiterSnapshot>();
        foreach (var connection in connections)
        {
            var id = connection.InspectionId;
            var stats = connection.InspectedSession.Stats;
            var rank = report.ConnectionRanks.GetValueOrDefault(id);
            var peer = SafePeer(connection);
            var byType = new Dictionary<string, long>();
            long requests = 0;
            if (stats is not null)
            {
                foreach (var type in QueryTypes)
                {
                    var count = stats.Requests(type);
                    if (count > 0)
                    {
                        byType[type.ToString()] = count;
                        requests += count;
                    }
                }
            }

            List<string> keys = [];
            double? waitingSeconds = null;
            if (waitsByConnection.TryGetValue(id, out var pending))
            {
                keys = [.. pending.Select(w => KeyText.Printable(w.Key)).Order(StringComparer.Ordinal)];
                var since = pending.Min(w => w.SinceTicks);
                waitingSeconds = Seconds(now - since);
                waiters.Add(new WaiterSnapshot(id, peer, rank?.Group, rank?.Rank, keys, wallNow.AddMilliseconds(since - now), waitingSeconds.Value));
            }

            clients.Add(new ClientSnapshot(
                id,
                peer,
                wallNow.AddMilliseconds(connection.ConnectedTicks - now),
                Seconds(now - connection.ConnectedTicks),
                stats is { LastRequestTicks: > 0 } ? Seconds(now - stats.LastRequestTicks) : null,
                requests,
                byType,
                stats?.BytesIn ?? 0,
                stats?.BytesOut ?? 0,
                rank?.Group,
                rank?.Rank,
                keys,
                waitingSeconds));
        }

        waiters.Sort((a, b) => b.WaitingSeconds.CompareTo(a.WaitingSeconds));
        var closed = new Dictionary<string, long>();
        foreach (var reason in Enum.GetValues<CloseReason>())
        {
            closed[reason.ToString()] = Metrics.Closed(reason);
        }

        var summary = new ServerSnapshot(
            wallNow,
            _startedAt,
            LocalEndPoint?.ToString() ?? string.Empty,
            connections.Count,
            Metrics.Accepted,
            Store.KeyCount,
            waits.Select(w => w.Key).Distinct(ByteKeyComparer.Instance).Count(),
            waiters.Count,
            waiters.Count > 0 ? waiters[0].WaitingSeconds : 0,
            totals.Requests,
            totals.ByType,
            totals.BytesIn,
            totals.BytesOut,
            closed,
            worldSize,
            report.Groups);
        return new InspectionSnapshot(summary, clients, waiters);
    }

    /// <summary>The store's keys (at most <paramref name="limit"/>, sorted), with values only when <paramref name="showValues"/>.</summary>
    public IReadOnlyList<KeySnapshot> InspectKeys(bool showValues, int limit = 1000)
    {
        var result = new List<KeySnapshot>();
        foreach (var key in Store.Keys().Select(k => (Raw: k, Text: KeyText.Printable(k))).OrderBy(k => k.Text, StringComparer.Ordinal).Take(limit))
        {
            var value = Store.Get(key.Raw);
            if (value is null)
            {
                continue;
            }

            result.Add(new KeySnapshot(key.Text, value.Length, showValues ? KeyText.Printable(value) : null));
        }

        return result;
    }

    /// <summary>The meters holding this server's instruments (its counters and the inspection gauges).</summary>
    public IReadOnlyList<System.Diagnostics.Metrics.Meter> Meters =>
        _inspectionMetrics is { } inspection ? [Metrics.Meter, inspection.Meter] : [Metrics.Meter];

    /// <summary>The pending waits' count and the oldest one's age, for the metrics.</summary>
    internal (int Waiting, double OldestSeconds) WaitSummary()
    {
        var registrations = Store.WaitRegistrations();
        if (registrations.Count == 0)
        {
            return (0, 0);
        }

        var waiting = registrations.Select(r => r.Waiter).Distinct().Count();
        return (waiting, Seconds(Environment.TickCount64 - registrations.Min(r => r.SinceTicks)));
    }

    // Called from the constructor: the instruments exist for dotnet-counters from the start.
    private void StartInspection() => _inspectionMetrics = new InspectionMetrics(this);

    private void StopInspection() => _inspectionMetrics?.Dispose();

    // A closed connection's counters move to the server's totals, so they survive it.
    private void RetireStats(Connection connection)
    {
        if (connection.InspectedSession.Stats is not { } stats)
        {
            return;
        }

        lock (_retiredLock)
        {
            stats.AddTo(_retiredRequests, ref _retiredBytesIn, ref _retiredBytesOut, ref _retiredCompareSets);
        }
    }

    private static string SafePeer(Connection connection)
    {
        try
        {
            return connection.InspectedClosed ? "?" : connection.Peer;
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or ObjectDisposedException or InvalidOperationException)
        {
            return "?";
        }
    }

    private static double Seconds(long milliseconds) => Math.Max(0, milliseconds) / 1000.0;
}

/// <summary>Request counters summed over the server's life.</summary>
/// <param name="ByType">Requests by query type name.</param>
/// <param name="Requests">All requests.</param>
/// <param name="BytesIn">Request bytes received.</param>
/// <param name="BytesOut">Reply bytes sent.</param>
/// <param name="RendezvousCompareSets">COMPARE_SETs on torchrun's state keys.</param>
public sealed record RequestTotals(IReadOnlyDictionary<string, long> ByType, long Requests, long BytesIn, long BytesOut, long RendezvousCompareSets);
