using TcpStore.Codec;

namespace TcpStore.Core.Inspection;

/// <summary>
/// What one connection has done, kept for operators (<c>tcpstore status</c>, the admin page, metrics).
/// Written only by the thread that processes the connection's input, so plain increments suffice;
/// readers on other threads may see values a few requests old, which is all a dashboard needs.
/// </summary>
/// <remarks>
/// A session creates this lazily on its first request, so an idle connection that never sent
/// anything costs one null reference; afterwards nothing on the request path allocates.
/// </remarks>
public sealed class SessionStats
{
    /// <summary>Slots for request counters; query types beyond it are counted in the last slot.</summary>
    public const int TypeSlots = 20;

    private readonly long[] _requests = new long[TypeSlots];

    /// <summary>Request bytes parsed (whole frames).</summary>
    public long BytesIn { get; private set; }

    /// <summary>Reply bytes handed to the transport for sending.</summary>
    public long BytesOut { get; private set; }

    /// <summary><see cref="Environment.TickCount64"/> when the last batch of requests was processed.</summary>
    public long LastRequestTicks { get; private set; }

    /// <summary>
    /// Hash (<see cref="RankKeyHash"/>) of the last key this connection SET whose last byte is a
    /// digit: gloo's and torchelastic's per-rank keys end in the rank, so the inspector can tie the
    /// connection to the rank whose key it wrote without the request path copying any key. 0 = none.
    /// </summary>
    public int LastRankKeyHash { get; private set; }

    /// <summary>COMPARE_SET requests on torchrun's <c>torch.rendezvous.</c> state key.</summary>
    public long RendezvousCompareSets { get; private set; }

    /// <summary>Requests of <paramref name="type"/> executed.</summary>
    public long Requests(QueryType type) => Volatile.Read(ref _requests[Slot(type)]);

    /// <summary>Adds this connection's counters into <paramref name="totals"/> (indexed like <see cref="Requests"/>).</summary>
    public void AddTo(long[] totals, ref long bytesIn, ref long bytesOut, ref long rendezvousCompareSets)
    {
        ArgumentNullException.ThrowIfNull(totals);
        for (var i = 0; i < Math.Min(totals.Length, TypeSlots); i++)
        {
            totals[i] += Volatile.Read(ref _requests[i]);
        }

        bytesIn += BytesIn;
        bytesOut += BytesOut;
        rendezvousCompareSets += RendezvousCompareSets;
    }

    /// <summary>The hash recorded in <see cref="LastRankKeyHash"/> for a key (never 0).</summary>
    public static int RankKeyHash(ReadOnlySpan<byte> key)
    {
        // The store's own keyed hash: HashCode.AddBytes cost about 250 instructions per SET of a
        // rank key, more than the rest of the SET (bench/instr-per-request.sh).
        var hash = ByteKeyComparer.Instance.GetHashCode(key);
        return hash == 0 ? 1 : hash;
    }

    internal void OnRequest(ref Request request)
    {
        _requests[Slot(request.Type)]++;
        if (request.Type == QueryType.Set && !request.Key.IsEmpty && (uint)(request.Key[^1] - '0') <= 9)
        {
            LastRankKeyHash = RankKeyHash(request.Key);
        }
        else if (request.Type == QueryType.CompareSet && IsRendezvousStateKey(request.Key))
        {
            RendezvousCompareSets++;
        }
    }

    internal void OnBatch(long bytes)
    {
        BytesIn += bytes;
        LastRequestTicks = Environment.TickCount64;
    }

    internal void OnSent(long bytes) => BytesOut += bytes;

    // A pooled connection's session starts its next connection from zero.
    internal void Reset()
    {
        Array.Clear(_requests);
        BytesIn = 0;
        BytesOut = 0;
        LastRequestTicks = 0;
        LastRankKeyHash = 0;
        RendezvousCompareSets = 0;
    }

    /// <summary>Whether <paramref name="key"/> is torchrun's rendezvous state key (<c>[/]torch.rendezvous.&lt;run_id&gt;</c>).</summary>
    public static bool IsRendezvousStateKey(ReadOnlySpan<byte> key)
    {
        if (!key.IsEmpty && key[0] == (byte)'/')
        {
            key = key[1..];
        }

        return key.StartsWith("torch.rendezvous."u8);
    }

    private static int Slot(QueryType type) => Math.Min((int)type, TypeSlots - 1);
}
