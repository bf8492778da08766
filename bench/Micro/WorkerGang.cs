namespace TcpStore.Bench.Micro;

/// <summary>
/// A fixed set of dedicated threads that run one piece of work each per <see cref="Run"/> and are
/// reused across benchmark invocations, so an invocation measures the work, not thread start-up or
/// thread-pool scheduling.
/// </summary>
public sealed class WorkerGang : IDisposable
{
    private readonly Thread[] _threads;
    private readonly ManualResetEventSlim[] _go;
    private readonly CountdownEvent _done;
    private readonly Action<int> _work;
    private volatile bool _stopping;
    private long _cpuNanoseconds;
    private long _runs;

    /// <summary>Starts <paramref name="count"/> threads that will each call <paramref name="work"/> with their index.</summary>
    public WorkerGang(int count, Action<int> work)
    {
        _work = work;
        _done = new CountdownEvent(count);
        _go = [.. Enumerable.Range(0, count).Select(_ => new ManualResetEventSlim(false))];
        _threads = [.. Enumerable.Range(0, count).Select(i => new Thread(() => Loop(i)) { IsBackground = true, Name = $"gang-{i}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    /// <summary>CPU time the threads spent in the work, summed over threads and runs.</summary>
    public long CpuNanoseconds => Interlocked.Read(ref _cpuNanoseconds);

    /// <summary>How many times <see cref="Run"/> ran the work.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Runs the work once on every thread at the same time and returns when all are done.</summary>
    public void Run()
    {
        _runs++;
        _done.Reset();
        foreach (var go in _go)
        {
            go.Set();
        }

        // Block in the kernel rather than CountdownEvent.Wait's spin: on a 2-core machine a spinning
        // caller takes a core from one of two workers, which measured as a 2-thread speed-up of
        // about 1.45x where the workers' own CPU per operation allowed about 1.65x.
        _done.WaitHandle.WaitOne();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stopping = true;
        foreach (var go in _go)
        {
            go.Set();
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }

        foreach (var go in _go)
        {
            go.Dispose();
        }

        _done.Dispose();
    }

    private void Loop(int index)
    {
        while (true)
        {
            _go[index].Wait();
            _go[index].Reset();
            if (_stopping)
            {
                return;
            }

            var cpu = ThreadCpuClock.Nanoseconds();
            _work(index);
            Interlocked.Add(ref _cpuNanoseconds, ThreadCpuClock.Nanoseconds() - cpu);
            _done.Signal();
        }
    }
}
