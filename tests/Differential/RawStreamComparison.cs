using TcpStore.Tests.Support;

namespace TcpStore.Tests.Differential;

/// <summary>
/// Sends one pipelined request stream raw to the real server and to ours, each on a connection kept
/// across calls (reopened after a server closed it), and requires byte-identical replies and the same
/// close. Shared by the in-memory and the etcd differential suites.
/// </summary>
internal sealed class RawStreamComparison(DifferentialPair pair, uint firstSentinel, string oursLabel) : IDisposable
{
    private RawClient? _real;
    private RawClient? _ours;
    private uint _sentinel = firstSentinel;

    public async Task CompareAsync(WireRequest[] requests)
    {
        // The sentinel's bytes (high bit set in every byte) never occur in the pool's keys, values or pings.
        var sentinel = _sentinel++ | 0x80808080;
        var bytes = Replies.Encode([.. requests, WireRequest.Ping(sentinel)]);
        _real ??= await LibUvRandomSequenceTests.ConnectRawAsync(pair.Real.Port);
        _ours ??= await LibUvRandomSequenceTests.ConnectRawAsync(pair.Ours.Port);
        var replies = await Task.WhenAll(
            LibUvRandomSequenceTests.ExchangeAsync(_real, bytes, sentinel),
            LibUvRandomSequenceTests.ExchangeAsync(_ours, bytes, sentinel));
        var (real, realClosed) = replies[0];
        var (ours, oursClosed) = replies[1];
        if (realClosed)
        {
            _real.Dispose();
            _real = null;
        }

        if (oursClosed)
        {
            _ours.Dispose();
            _ours = null;
        }

        Assert.True(
            Convert.ToHexString(real) == Convert.ToHexString(ours) && realClosed == oursClosed,
            $"replies differ for [{string.Join(" ", requests.Select(r => r.ToString()))}]\nreal ({(realClosed ? "closed" : "open")}): {Convert.ToHexString(real)}\n{oursLabel} ({(oursClosed ? "closed" : "open")}): {Convert.ToHexString(ours)}");
    }

    public void Dispose()
    {
        _real?.Dispose();
        _ours?.Dispose();
    }
}
