using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace TcpStore.Tests.Differential;

/// <summary>
/// The same random call sequences through the real PyTorch client against the real PyTorch server
/// and against ours: every result must be identical (README "Deliberate differences" never arise
/// with one sequential client, and blocking calls on absent keys are planned away).
/// </summary>
public sealed partial class LibUvRandomSequenceTests(LibUvPair pair) : IClassFixture<LibUvPair>
{
    [Fact]
    public void Random_call_sequences_give_identical_results_on_the_libuv_server_and_ours()
    {
        var property = Prop.ForAll(OpGenerators.Sequences(queues: true, maxLength: 25), ops => SequenceComparison.Run(pair, ops));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(40), property);
    }

    [Fact]
    public Task A_wait_is_released_by_a_set_from_another_client_on_both_servers() =>
        TwoClientScenarios.BothAsync(pair, TwoClientScenarios.WaitReleasedBySet);

    [Fact]
    public Task A_blocking_queue_pop_is_released_by_a_push_from_another_client_on_both_servers() =>
        TwoClientScenarios.BothAsync(pair, TwoClientScenarios.QueuePopReleasedByPush);

    [Fact]
    public async Task Compare_set_leaving_the_key_missing_wakes_waiters_only_on_libuv_as_documented()
    {
        // README "Deliberate differences": libuv wakes waiters in every compare_set branch (a spurious
        // STOP_WAITING for a key that is still missing); ours wakes only when the key exists afterwards.
        var results = await TwoClientScenarios.EachAsync(pair, async (first, second, key) =>
        {
            var wait = first.WaitAsync(TimeSpan.FromMilliseconds(1500), key);
            await Task.Delay(300);
            var reply = Encoding.UTF8.GetString(await second.CompareSetAsync(key, "expected"u8.ToArray(), "desired"u8.ToArray()));
            string outcome;
            try
            {
                await wait.WaitAsync(TimeSpan.FromSeconds(20));
                outcome = "woken";
            }
            catch (TcpStore.Tests.Interop.RealClientException ex) when (ex.ErrorType == "c10::DistStoreError")
            {
                outcome = "timed out";
            }

            return $"cas replied {reply}; waiter {outcome}; key present: {await second.CheckAsync(key)}";
        });
        Assert.Equal("cas replied expected; waiter woken; key present: False", results.Real);
        Assert.Equal("cas replied expected; waiter timed out; key present: False", results.Ours);
    }
}

internal static class TwoClientScenarios
{
    public delegate Task<string> Scenario(TcpStore.Tests.Interop.RealPyTorchClient first, TcpStore.Tests.Interop.RealPyTorchClient second, byte[] key);

    /// <summary>A WAIT blocks until another client SETs the key; then the waiter reads it.</summary>
    public static readonly Scenario WaitReleasedBySet = async (first, second, key) =>
    {
        var wait = first.WaitAsync(TimeSpan.FromSeconds(10), key);
        await Task.Delay(300);
        var early = wait.IsCompleted ? "woken early" : "blocked";
        await second.SetAsync(key, "v"u8.ToArray());
        await wait.WaitAsync(TimeSpan.FromSeconds(20));
        return $"{early}, then {Encoding.UTF8.GetString(await first.GetAsync(key))}";
    };

    /// <summary>A blocking pop waits until another client pushes two items; the popper gets the first, one stays.</summary>
    public static readonly Scenario QueuePopReleasedByPush = async (first, second, key) =>
    {
        var pop = first.QueuePopAsync(key, block: true);
        await Task.Delay(300);
        var early = pop.IsCompleted ? "woken early" : "blocked";
        await second.QueuePushAsync(key, "item"u8.ToArray());
        await second.QueuePushAsync(key, "next"u8.ToArray());
        // QUEUE_PUSH has no reply, so returning from it orders nothing: a round trip on the pushing
        // connection does (its requests run in order), before the other client reads the length.
        _ = await second.QueueLengthAsync(key);
        var popped = Encoding.UTF8.GetString(await pop.WaitAsync(TimeSpan.FromSeconds(20)));
        return $"{early}, then {popped}, length {await first.QueueLengthAsync(key)}";
    };

    /// <summary>Runs the scenario against both servers at once (fresh key each) and requires identical outcomes.</summary>
    public static async Task BothAsync(DifferentialPair pair, Scenario scenario)
    {
        var (real, ours) = await EachAsync(pair, scenario);
        Assert.Equal(real, ours);
    }

    public static async Task<(string Real, string Ours)> EachAsync(DifferentialPair pair, Scenario scenario)
    {
        var key = Encoding.UTF8.GetBytes(pair.NextPrefix() + "k");
        var both = await Task.WhenAll(
            Task.Run(() => scenario(pair.RealClients[0], pair.RealClients[1], key)),
            Task.Run(() => scenario(pair.OurClients[0], pair.OurClients[1], key)));
        return (both[0], both[1]);
    }
}

/// <summary>Legacy backend: the calls where legacy and libuv agree (no queues; the planner avoids missing-key GETs).</summary>
public sealed class LegacyRandomSequenceTests(LegacyPair pair) : IClassFixture<LegacyPair>
{
    [Fact]
    public void Random_call_sequences_without_queues_give_identical_results_on_the_legacy_server_and_ours()
    {
        var property = Prop.ForAll(OpGenerators.Sequences(queues: false, maxLength: 20), ops => SequenceComparison.Run(pair, ops));
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(15), property);
    }
}

internal static class SequenceComparison
{
    public static void Run(DifferentialPair pair, ClientOp[] ops)
    {
        // FsCheck runs properties synchronously; the clients are async, so run them off the test's context.
        Task.Run(() => RunAsync(pair, ops)).GetAwaiter().GetResult();
    }

    private static async Task RunAsync(DifferentialPair pair, ClientOp[] ops)
    {
        var plan = SequencePlanner.Plan(ops);
        var prefix = pair.NextPrefix();
        var real = new ClientOpRunner(pair.RealClients[0], prefix);
        var ours = new ClientOpRunner(pair.OurClients[0], prefix);
        List<string> expected;
        List<string> actual;
        try
        {
            var both = await Task.WhenAll(real.RunAsync(plan), ours.RunAsync(plan));
            (expected, actual) = (both[0], both[1]);
        }
        finally
        {
            // A closed connection stays closed for the real client: start the next sequence afresh.
            if (real.Broken || pair.RealClients[0].HasExited)
            {
                await pair.ReconnectAsync(real: true, 0);
            }

            if (ours.Broken || pair.OurClients[0].HasExited)
            {
                await pair.ReconnectAsync(real: false, 0);
            }
        }

        if (!expected.SequenceEqual(actual))
        {
            var report = new StringBuilder($"results differ (prefix {prefix}, {(pair.UseLibUv ? "libuv" : "legacy")}):\n");
            for (var i = 0; i < plan.Count; i++)
            {
                var mark = expected[i] == actual[i] ? "  " : "≠ ";
                report.Append(mark).Append(plan[i]).Append(" -> real: ").Append(expected[i]).Append(" | ours: ").Append(actual[i]).Append('\n');
            }

            Assert.Fail(report.ToString());
        }
    }
}
