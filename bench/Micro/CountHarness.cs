using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Bench.Micro;

/// <summary>
/// The <see cref="SessionBenchmarks"/> loop without BenchmarkDotNet, for counting instructions under
/// callgrind (bench/instr-per-request.sh runs it at two batch counts and divides the difference).
/// Usage: <c>bench count KIND DEPTH BATCHES</c>.
/// </summary>
public static class CountHarness
{
    /// <summary>Runs <c>BATCHES</c> reads of <c>DEPTH</c> requests of <c>KIND</c>; prints the requests run.</summary>
    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length != 4)
        {
            Console.Error.WriteLine("usage: count KIND DEPTH BATCHES");
            return 2;
        }

        var kind = args[1];
        var depth = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var batches = int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
        var store = new KeyValueStore();
        Frames.Populate(store);
        using var session = Frames.ValidatedSession(store, LegacyProtocol.Torch113);
        using var sending = new PooledBufferWriter();

        var batch = Frames.Build(kind, depth);

        // COUNT_WARMUP=N: N batches first, then a pause for the tiered JIT's background compiles, so
        // a run with tiering on (and PGO) counts the code a long-running server executes.
        if (int.TryParse(Environment.GetEnvironmentVariable("COUNT_WARMUP"), out var warmup))
        {
            // Three rounds: tier 0, the instrumented tier, then the optimized one with its profile.
            for (var round = 0; round < 3; round++)
            {
                for (var i = 0; i < warmup; i++)
                {
                    Frames.ProcessRead(session, batch, sending);
                }

                Thread.Sleep(TimeSpan.FromSeconds(3));
            }
        }

        long requests = 0;
        for (var i = 0; i < batches; i++)
        {
            var result = session.Process(batch);
            if (result.Error != ProtocolError.None || result.Consumed != batch.Length)
            {
                throw new InvalidOperationException($"{kind} batch failed: {result}");
            }

            session.TakeOutput(sending);
            sending.Clear();
            requests += result.Requests;
        }

        Console.WriteLine(requests);
        return 0;
    }
}
