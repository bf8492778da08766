namespace TcpStore.Core.Inspection;

/// <summary>One key a connection is waiting for, as the decoder sees it.</summary>
/// <param name="ConnectionId">The waiting connection.</param>
/// <param name="Key">The awaited key.</param>
/// <param name="SinceTicks"><see cref="Environment.TickCount64"/> when its WAIT started.</param>
public readonly record struct InspectedWait(long ConnectionId, byte[] Key, long SinceTicks);

/// <summary>What <see cref="RendezvousDecoder"/> reads: a snapshot of keys, waits and connections.</summary>
public sealed class RendezvousInput
{
    /// <summary>Every key in the store.</summary>
    public required IReadOnlyList<byte[]> Keys { get; init; }

    /// <summary>Reads a key's current value (null when it is gone); called only for keys the conventions need.</summary>
    public required Func<byte[], byte[]?> ReadValue { get; init; }

    /// <summary>Every pending wait registration.</summary>
    public required IReadOnlyList<InspectedWait> Waits { get; init; }

    /// <summary>Each connection's <see cref="SessionStats.LastRankKeyHash"/> (connections without one may be left out).</summary>
    public required IReadOnlyDictionary<long, int> RankKeyHashes { get; init; }

    /// <summary><see cref="Environment.TickCount64"/> at the snapshot.</summary>
    public long NowTicks { get; init; } = Environment.TickCount64;

    /// <summary>The world size the operator gave, if any (applies to every group).</summary>
    public int? WorldSize { get; init; }

    /// <summary>COMPARE_SET requests on torchrun's state keys since start (all run ids together).</summary>
    public long RendezvousCompareSets { get; init; }
}

/// <summary>The decoder's result.</summary>
/// <param name="Groups">Recognised rendezvous, stalled ones first.</param>
/// <param name="ConnectionRanks">Connection id to "rank R of GROUP", for connections whose rank key was seen.</param>
public sealed record RendezvousReport(IReadOnlyList<RendezvousGroup> Groups, IReadOnlyDictionary<long, ConnectionRank> ConnectionRanks);

/// <summary>The rank a connection belongs to, learnt from the rank key it wrote.</summary>
/// <param name="Group">The rank-key group's name.</param>
/// <param name="Rank">The rank.</param>
public sealed record ConnectionRank(string Group, int Rank);
