namespace TcpStore.Etcd;

/// <summary>The etcd engine's state for one client connection (kept in <see cref="Core.Session.EngineTag"/>).</summary>
internal sealed class EtcdConnection(long id)
{
    /// <summary>Names this connection's idempotence marker key.</summary>
    public long Id { get; } = id;

    /// <summary>Numbers this connection's conditional writes, so a retry can tell whether an attempt landed.</summary>
    public long Sequence { get; set; }

    private WaitEntry? _wait;
    private int _retired;

    /// <summary>The pending WAIT, if any.</summary>
    public WaitEntry? Wait
    {
        get => Volatile.Read(ref _wait);
        set => Interlocked.Exchange(ref _wait, value);
    }

    /// <summary>The connection closed; a WAIT still being checked must not stay registered.</summary>
    public bool Retired
    {
        get => Volatile.Read(ref _retired) != 0;
        set => Interlocked.Exchange(ref _retired, value ? 1 : 0);
    }
}
