using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace TcpStore.Tests.Core;

/// <summary>
/// One dedicated thread per connection slot, as the server gives each connection to one event loop:
/// work for a slot always runs on that slot's thread, and the caller waits for it. Steps stay in the
/// order the test gives them, but every session runs on its own thread, so wake-ups cross threads
/// as they do between loops.
/// </summary>
internal sealed class SlotThreads : IDisposable
{
    private readonly BlockingCollection<Action>[] _queues;
    private readonly Thread[] _threads;

    public SlotThreads(int slots)
    {
        _queues = [.. Enumerable.Range(0, slots).Select(_ => new BlockingCollection<Action>())];
        _threads = [.. Enumerable.Range(0, slots).Select(i => new Thread(() => Loop(_queues[i])) { IsBackground = true, Name = $"slot-{i}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>Runs <paramref name="work"/> on the slot's thread and returns its result (or rethrows its exception).</summary>
    public T Run<T>(int slot, Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        using var done = new ManualResetEventSlim();
        _queues[slot].Add(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
            finally
            {
                done.Set();
            }
        });
        done.Wait();
        failure?.Throw();
        return result;
    }

    public void Dispose()
    {
        foreach (var queue in _queues)
        {
            queue.CompleteAdding();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
    }

    private static void Loop(BlockingCollection<Action> queue)
    {
        foreach (var work in queue.GetConsumingEnumerable())
        {
            work();
        }
    }
}
