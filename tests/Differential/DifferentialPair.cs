using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Differential;

/// <summary>
/// A real PyTorch server and ours, each with two real PyTorch clients, reused by every sequence of a
/// test class: the real server may stall ~1 s per accept (reverse DNS), so connections are made once
/// and only remade after a sequence broke one.
/// </summary>
public abstract class DifferentialPair(bool useLibUv) : IAsyncLifetime
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(10);
    private int _sequences;

    public RealPyTorchServer Real { get; private set; } = null!;

    public TestServer Ours { get; private set; } = null!;

    /// <summary>[0] = first, [1] = second client of the real server.</summary>
    public RealPyTorchClient[] RealClients { get; } = new RealPyTorchClient[2];

    /// <summary>[0] = first, [1] = second client of our server.</summary>
    public RealPyTorchClient[] OurClients { get; } = new RealPyTorchClient[2];

    public bool UseLibUv => useLibUv;

    public string NextPrefix() => $"seq{Interlocked.Increment(ref _sequences)}/";

    public async ValueTask InitializeAsync()
    {
        var real = RealPyTorchServer.StartAsync(useLibUv);
        var ours = StartOursAsync();
        Real = await real;
        Ours = await ours;
        for (var i = 0; i < 2; i++)
        {
            await ReconnectAsync(real: true, i);
            await ReconnectAsync(real: false, i);
        }
    }

    /// <summary>Starts our server (a pair over another store engine starts it with that engine).</summary>
    // Two event loops: the connections of a sequence land on different loops, against the sharded store.
    protected virtual Task<TestServer> StartOursAsync() => TestServer.StartAsync(o => o.EventLoops = 2);

    /// <summary>Runs after both servers stopped (a pair over another engine releases it here).</summary>
    protected virtual ValueTask OnStoppedAsync() => ValueTask.CompletedTask;

    public async Task ReconnectAsync(bool real, int index)
    {
        var clients = real ? RealClients : OurClients;
        if (clients[index] is { } old)
        {
            await old.DisposeAsync();
        }

        clients[index] = await RealPyTorchClient.ConnectAsync("127.0.0.1", real ? Real.Port : Ours.Port, StoreTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in RealClients.Concat(OurClients))
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }
        }

        if (Ours is not null)
        {
            await Ours.DisposeAsync();
        }

        if (Real is not null)
        {
            await Real.DisposeAsync();
        }

        await OnStoppedAsync();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Real libuv server vs ours.</summary>
public sealed class LibUvPair() : DifferentialPair(useLibUv: true);

/// <summary>Real legacy server vs ours.</summary>
public sealed class LegacyPair() : DifferentialPair(useLibUv: false);
