namespace TcpStore.Core.Inspection;

/// <summary>The kinds of rendezvous the inspector recognises from PyTorch's key names (docs/inspect.md).</summary>
public static class RendezvousKinds
{
    /// <summary>gloo/NCCL per-rank keys <c>&lt;prefix&gt;/&lt;rank&gt;</c> (also torchelastic's <c>synchronize</c>).</summary>
    public const string RankKeys = "rank-keys";

    /// <summary>distributed_c10d's <c>store_based_barrier_key:&lt;group&gt;</c> counter and its <c>:last_worker</c> key.</summary>
    public const string StoreBarrier = "store-based-barrier";

    /// <summary>torchelastic's <c>&lt;prefix&gt;/num_members</c> and <c>&lt;prefix&gt;/last_member</c> barrier.</summary>
    public const string ElasticBarrier = "torchelastic-barrier";

    /// <summary>torchrun's c10d rendezvous state <c>torch.rendezvous.&lt;run_id&gt;</c>.</summary>
    public const string TorchrunState = "torchrun-rendezvous";

    /// <summary>The client's <c>init/</c> worker counter.</summary>
    public const string ClientInit = "client-init";
}

/// <summary>One rendezvous decoded from the store's keys and waits.</summary>
/// <param name="Kind">One of <see cref="RendezvousKinds"/>.</param>
/// <param name="Name">The group's key prefix or key, escaped for display.</param>
/// <param name="WorldSize">How many ranks the group has, when known.</param>
/// <param name="WorldSizeSource">Where <paramref name="WorldSize"/> came from: <c>operator</c> or the traffic it was read from.</param>
/// <param name="Arrived">How many ranks have arrived (keys written, or the barrier count).</param>
/// <param name="PresentRanks">The ranks known to have arrived (may be fewer than <paramref name="Arrived"/> when arrivals are anonymous).</param>
/// <param name="MissingRanks">Ranks certainly missing.</param>
/// <param name="MissingCount">How many ranks are missing, when the world size is known (even if they cannot be named).</param>
/// <param name="LaterRanksUnknown">True when the world size is unknown, so ranks after the highest one seen may be missing too.</param>
/// <param name="Complete">True when the rendezvous has finished (every rank arrived, or the barrier's release key is set).</param>
/// <param name="WaitingConnections">Connections waiting on the group's keys now.</param>
/// <param name="OldestWaitSeconds">How long the longest of those has waited.</param>
/// <param name="Summary">One line for humans.</param>
public sealed record RendezvousGroup(
    string Kind,
    string Name,
    int? WorldSize,
    string? WorldSizeSource,
    int Arrived,
    IReadOnlyList<int> PresentRanks,
    IReadOnlyList<int> MissingRanks,
    int? MissingCount,
    bool LaterRanksUnknown,
    bool Complete,
    int WaitingConnections,
    double OldestWaitSeconds,
    string Summary);
