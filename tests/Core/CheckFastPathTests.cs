using System.Text;
using TcpStore.Codec;
using TcpStore.Core;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Core;

/// <summary>
/// CHECK of one key answers "ready" without the shard lock when the key's cell is settled, and
/// still waits for a MULTI_SET that holds the key's cell, so it never sees such a step half done.
/// The key observer runs inside the step with every cell held, which lets a test act in the middle.
/// </summary>
public sealed class CheckFastPathTests
{
    [Fact]
    public void Check_of_a_key_created_by_an_unfinished_multi_set_waits_for_the_step()
    {
        var store = new KeyValueStore();
        using var concurrentCheck = new BackgroundCheck(store, "/late");
        store.KeyObserver = new DuringStep(() =>
        {
            // "/late" is already in the map (created held) but its value is not written yet.
            concurrentCheck.Start();
            Assert.False(concurrentCheck.Answered.Wait(TimeSpan.FromMilliseconds(200)), "CHECK answered in the middle of a MULTI_SET");
        });
        MultiSet(store, ["/early", "/late"]);
        Assert.True(concurrentCheck.Answered.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(concurrentCheck.Ready);
    }

    [Fact]
    public void Check_of_a_settled_key_does_not_wait_for_a_step_holding_its_shard()
    {
        var store = new KeyValueStore(1);
        store.Set(Key("/ready"), Key("v"));
        using var concurrentCheck = new BackgroundCheck(store, "/ready");
        store.KeyObserver = new DuringStep(() =>
        {
            // One shard: the step holds the only shard lock, but not "/ready"'s cell.
            concurrentCheck.Start();
            Assert.True(concurrentCheck.Answered.Wait(TimeSpan.FromSeconds(30)), "CHECK of a settled key waited for the shard lock");
        });
        MultiSet(store, ["/other"]);
        Assert.True(concurrentCheck.Ready);
        store.KeyObserver = null;
        Assert.True(store.Delete(Key("/ready")));
        Assert.False(Check(store, "/ready"));
    }

    private static byte[] Key(string text) => Encoding.ASCII.GetBytes(text);

    private static bool Check(KeyValueStore store, string key)
    {
        var frame = WireRequest.Multi(QueryType.Check, [Key(key)]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        return store.Check(request.Keys);
    }

    private static void MultiSet(KeyValueStore store, string[] keys)
    {
        var frame = WireRequest.MultiSet([.. keys.Select(Key)], [.. keys.Select(_ => Key("x"))]).Encode();
        var reader = new RequestReader(frame, CodecLimits.Default);
        Assert.Equal(ParseStatus.Complete, reader.TryRead(out var request));
        store.MultiSet(request.Keys);
    }

    // A CHECK on its own thread (started once), so the test thread can stay inside the step.
    private sealed class BackgroundCheck(KeyValueStore store, string key) : IDisposable
    {
        private Thread? _thread;

        public ManualResetEventSlim Answered { get; } = new();

        public bool Ready { get; private set; }

        public void Start()
        {
            if (_thread is not null)
            {
                return;
            }

            _thread = new Thread(() =>
            {
                Ready = Check(store, key);
                Answered.Set();
            });
            _thread.Start();
        }

        public void Dispose()
        {
            _thread?.Join();
            Answered.Dispose();
        }
    }

    private sealed class DuringStep(Action action) : IKeyChangeObserver
    {
        public void OnKeyChanged(KeyChange change, ReadOnlySpan<byte> key, ReadOnlySpan<byte> oldValue, ReadOnlySpan<byte> newValue) => action();
    }
}
