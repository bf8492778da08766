using System.Diagnostics;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Interop;

/// <summary>
/// Real PyTorch 2.10 gloo ranks (the shim's <c>--gloo-rank</c>) rendezvous over our in-memory server and then
/// run ProcessGroupGloo::barrier, a collective that travels over gloo's own TCP pairs once the store has
/// introduced the ranks to each other.
/// </summary>
public sealed class GlooBarrierTests
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan LongBarrier = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_gloo_barrier_passes_with_every_rank_and_blocks_while_one_is_withheld()
    {
        const int World = 3;
        await using var server = await TestServer.StartAsync();
        var ranks = await ConnectAsync(server.Port, World);
        try
        {
            await Task.WhenAll(ranks.Select(r => r.GlooBarrierAsync(LongBarrier)));

            // Ranks 0 and 1 enter the next barrier; rank 2 is withheld, so neither may pass.
            var entered = ranks[..^1].Select(r => r.GlooBarrierAsync(LongBarrier)).ToArray();
            await Task.WhenAny(Task.WhenAll(entered), Task.Delay(TimeSpan.FromSeconds(2)));
            Assert.All(entered, t => Assert.False(t.IsCompleted, "a gloo barrier passed with a rank missing"));

            await ranks[^1].GlooBarrierAsync(LongBarrier);
            await Task.WhenAll(entered);
        }
        finally
        {
            await Task.WhenAll(ranks.Select(r => r.DisposeAsync().AsTask()));
        }
    }

    [Fact]
    public async Task A_gloo_barrier_alone_fails_after_the_timeout_it_was_given()
    {
        // The timeout travels in BarrierOptions, whose layout the shim declares by hand: gloo naming the same
        // number of milliseconds is the run-time check that the field is where the library reads it.
        await using var server = await TestServer.StartAsync();
        var ranks = await ConnectAsync(server.Port, 2);
        try
        {
            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<RealClientException>(() => ranks[0].GlooBarrierAsync(TimeSpan.FromMilliseconds(1500)));
            Assert.Contains("Timed out waiting 1500ms", error.Message, StringComparison.Ordinal);
            Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1400), $"failed after {clock.Elapsed}");
        }
        finally
        {
            await Task.WhenAll(ranks.Select(r => r.DisposeAsync().AsTask()));
        }
    }

    private static Task<RealPyTorchClient[]> ConnectAsync(int port, int world)
        => Task.WhenAll(Enumerable.Range(0, world).Select(rank =>
            RealPyTorchClient.ConnectAsync("127.0.0.1", port, StoreTimeout, worldSize: world, glooRank: rank)));
}
