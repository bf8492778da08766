using System.Buffers.Binary;
using TcpStore.Codec;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>Operations from many connections at once stay atomic and every wait ends exactly once.</summary>
public sealed class ConcurrencyTests
{
    private static byte[] K(string text) => RawClient.Key(text);

    [Fact]
    public async Task Concurrent_pipelined_ADDs_on_one_key_hand_out_every_value_exactly_once()
    {
        const int Clients = 8;
        const int AddsPerClient = 500;
        await using var server = await TestServer.StartAsync();
        var clients = await Task.WhenAll(Enumerable.Range(0, Clients).Select(_ => RawClient.ConnectAsync(server.Port)));
        try
        {
            var batch = Encode([.. Enumerable.Repeat(WireRequest.Add(K("counter"), 1), AddsPerClient)]);
            var results = await Task.WhenAll(clients.Select(async client =>
            {
                await client.SendAsync(batch);
                var replies = await client.ReceiveExactlyAsync(8 * AddsPerClient);
                return Enumerable.Range(0, AddsPerClient).Select(i => BinaryPrimitives.ReadInt64LittleEndian(replies.AsSpan(i * 8))).ToArray();
            }));

            foreach (var perClient in results)
            {
                // One connection's requests execute in order, so its results only grow.
                Assert.True(perClient.Zip(perClient.Skip(1)).All(p => p.First < p.Second));
            }

            Assert.Equal(Enumerable.Range(1, Clients * AddsPerClient).Select(i => (long)i), results.SelectMany(r => r).Order());
            Assert.Equal(Clients * AddsPerClient, long.Parse(server.Server.Store.Get(K("counter"))!, System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task Many_waiters_racing_writers_and_cancels_each_get_exactly_the_bytes_they_are_owed()
    {
        const int Waiters = 6;
        const int Rounds = 60;
        await using var server = await TestServer.StartAsync(o => o.EventLoops = 2);
        var waiters = await Task.WhenAll(Enumerable.Range(0, Waiters).Select(_ => RawClient.ConnectAsync(server.Port)));
        using var writer = await RawClient.ConnectAsync(server.Port);
        try
        {
            var wakeWon = 0;
            var cancelWon = 0;
            for (var round = 0; round < Rounds; round++)
            {
                var key = K($"round{round}");
                foreach (var waiter in waiters)
                {
                    await waiter.SendAsync(Encode(WireRequest.Multi(QueryType.Wait, [key])));
                }

                Assert.True(await Eventually.TrueAsync(() => server.Server.Store.AwaitedKeys().Sum(p => p.Value) == Waiters));

                // Half of the waiters cancel while the writer sets the key: each sees either the wake
                // then WAIT_CANCELED, or WAIT_CANCELED alone; the rest must be woken.
                var cancelling = waiters.Where((_, i) => i % 2 == round % 2).ToArray();
                // The writer goes first in odd rounds and last in even ones, so both sides of the race win sometimes.
                var set = Encode(WireRequest.KeyValue(QueryType.Set, key, K("v")));
                var early = round % 2 == 1 ? writer.SendAsync(set) : null;
                var sends = cancelling.Select(w => w.SendAsync(Encode(WireRequest.Bare(QueryType.CancelWait), WireRequest.Ping((uint)round)))).ToList();
                sends.Add(early ?? writer.SendAsync(set));
                await Task.WhenAll(sends);

                foreach (var waiter in waiters)
                {
                    if (cancelling.Contains(waiter))
                    {
                        var first = await waiter.ReadByteAsync();
                        var rest = await waiter.ReceiveExactlyAsync(first == Protocol.StopWaiting ? 5 : 4);
                        var reply = Convert.ToHexString([first, .. rest]);
                        if (first == Protocol.StopWaiting)
                        {
                            wakeWon++;
                        }
                        else
                        {
                            cancelWon++;
                        }

                        Assert.True(
                            reply == Convert.ToHexString(Concat(WaitCanceled, UInt32((uint)round)))
                            || reply == Convert.ToHexString(Concat(StopWaiting, WaitCanceled, UInt32((uint)round))),
                            $"round {round}: {reply}");
                    }
                    else
                    {
                        Assert.Equal(Protocol.StopWaiting, await waiter.ReadByteAsync());
                    }
                }

                Assert.Equal(0, server.Server.Store.AwaitedKeyCount);
            }

            foreach (var waiter in waiters)
            {
                Assert.True(await waiter.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(30)));
            }

            // Both sides of the race must have happened, or the test did not exercise it.
            Assert.True(wakeWon > 0 && cancelWon > 0, $"wake won {wakeWon} times, cancel won {cancelWon} times");
        }
        finally
        {
            foreach (var waiter in waiters)
            {
                waiter.Dispose();
            }
        }
    }
}
