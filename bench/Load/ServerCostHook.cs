namespace TcpStore.Bench.Load;

/// <summary>
/// Samples a server's counters (<see cref="ServerSample"/>) around the measured phase and, with
/// <c>--syscalls</c>, traces its system calls over it.
/// </summary>
public sealed class ServerCostHook(ServerProcess server, bool traceSyscalls) : IMeasureHook
{
    private ServerSample? _before;
    private ServerSample? _after;
    private SyscallTrace? _trace;
    private Dictionary<string, long>? _calls;

    /// <inheritdoc />
    public async Task StartAsync()
    {
        ArgumentNullException.ThrowIfNull(server);
        if (traceSyscalls)
        {
            _trace = await SyscallTrace.StartAsync(server.Pid).ConfigureAwait(false);
        }

        _before = await ServerSample.TakeAsync(server.Pid, server.ProbeFile).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task StopAsync()
    {
        _after = await ServerSample.TakeAsync(server.Pid, server.ProbeFile).ConfigureAwait(false);
        if (_trace is not null)
        {
            _calls = await _trace.StopAsync().ConfigureAwait(false);
            await _trace.DisposeAsync().ConfigureAwait(false);
            _trace = null;
        }
    }

    /// <summary>The cost per request of the run that completed <paramref name="completed"/> requests.</summary>
    public ServerCost? Cost(long completed)
    {
        if (_before is null || _after is null)
        {
            return null;
        }

        var cost = _after.Since(_before, completed);
        return _calls is null || completed == 0 ? cost : cost with { SyscallsPerOp = _calls.ToDictionary(c => c.Key, c => (double)c.Value / completed) };
    }
}
