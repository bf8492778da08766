using System.Runtime.CompilerServices;
using TcpStore.Codec;

namespace TcpStore.Core.Inspection;

/// <summary>
/// What one connection has done, kept for operators (<c>tcpstore status</c>, the admin page, metrics).
/// Written only by the thread that processes the connection's input, so plain increments suffice;
/// readers on other threads may see values a few requests old, which is all a dashboard needs.
/// </summary>
/// <remarks>
/// A session creates this lazily on its first request, so an idle connection that never sent
/// anything costs one null reference; afterwards nothing on the request path allocates. The
/// per-type counters are 32-bit and live inside the object (no array): 144 bytes a connection
/// instead of 248, which matters at 10,000 idle ranks. A counter that wraps carries 2^32 into a
/// side array allocated then (after four billion requests of one type on one connection).
/// </remarks>
public sealed class SessionStats
{
    /// <summary>Slots for request counters; query types beyond it are counted in the last slot.</summary>
    public const int TypeSlots = 20;

    private Counters _requests;
    private long[]? _carried;

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
    public long Requests(QueryType type) => Read(Slot(type));

    /// <summary>Adds this connection's counters into <paramref name="totals"/> (indexed like <see cref="Requests"/>).</summary>
    public void AddTo(long[] totals, ref long bytesIn, ref long bytesOut, ref long rendezvousCompareSets)
    {
        ArgumentNullException.ThrowIfNull(totals);
        for (var i = 0; i < Math.Min(totals.Length, TypeSlots); i++)
        {
            totals[i] += Read(i);
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

    /// <summary>
    /// Forgets everything, as for a new connection (for a transport that reuses its per-connection
    /// objects; the server must fold the counters into its totals first).
    /// </summary>
    public void Reset()
    {
        _requests = default;
        _carried = null;
        BytesIn = 0;
        BytesOut = 0;
        LastRequestTicks = 0;
        LastRankKeyHash = 0;
        RendezvousCompareSets = 0;
    }

    // One increment and a type test for every request; only SET and COMPARE_SET look at their key,
    // out of line. (Marked for inlining, but callgrind showed the JIT keeps it a call from the
    // session's large Execute: about 50 instructions per request with the call.)
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void OnRequest(ref Request request)
    {
        var type = request.Type;
        var slot = Slot(type);
        if (++_requests[slot] == 0)
        {
            Carry(slot);
        }

        if (type == QueryType.CompareSet && IsRendezvousStateKey(request.Key))
        {
            RendezvousCompareSets++;
        }
    }

    /// <summary>
    /// After a SET of <paramref name="key"/>: records its hash as <see cref="LastRankKeyHash"/> when
    /// the key ends in a digit. <paramref name="keyHash"/> is the hash the store computed for the
    /// SET (the same function as <see cref="RankKeyHash"/>), so the key is not hashed twice.
    /// </summary>
    internal void OnSet(ReadOnlySpan<byte> key, int keyHash)
    {
        if (!key.IsEmpty && (uint)(key[^1] - '0') <= 9)
        {
            LastRankKeyHash = keyHash == 0 ? 1 : keyHash;
        }
    }

    internal void OnBatch(long bytes)
    {
        BytesIn += bytes;
        LastRequestTicks = Environment.TickCount64;
    }

    internal void OnSent(long bytes) => BytesOut += bytes;

    /// <summary>Whether <paramref name="key"/> is torchrun's rendezvous state key (<c>[/]torch.rendezvous.&lt;run_id&gt;</c>).</summary>
    public static bool IsRendezvousStateKey(ReadOnlySpan<byte> key)
    {
        if (!key.IsEmpty && key[0] == (byte)'/')
        {
            key = key[1..];
        }

        return key.StartsWith("torch.rendezvous."u8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Slot(QueryType type) => (uint)type < TypeSlots ? (int)type : TypeSlots - 1;

    // A reader on another thread may see the wrapped counter before the carry for a moment (a
    // dashboard value 2^32 low once in four billion requests); the request path stays one increment.
    private long Read(int slot) => Volatile.Read(ref _requests[slot]) + (Volatile.Read(ref _carried) is { } carried ? Volatile.Read(ref carried[slot]) : 0);

    // Tests start a counter near the wrap instead of making four billion requests.
    internal void Preset(QueryType type, uint count) => _requests[Slot(type)] = count;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Carry(int slot)
    {
        var carried = _carried ?? new long[TypeSlots];
        carried[slot] += 1L << 32;
        Volatile.Write(ref _carried, carried);
    }

    [InlineArray(TypeSlots)]
    private struct Counters
    {
        private uint _first;
    }
}
