namespace TcpStore.Etcd;

/// <summary>The etcd engine's state for one client connection (kept in <see cref="Core.Session.EngineTag"/>).</summary>
internal sealed class EtcdConnection(long id)
{
    /// <summary>Names this connection's idempotence marker key.</summary>
    public long Id { get; } = id;

    /// <summary>Numbers this connection's conditional writes, so a retry can tell whether an attempt landed.</summary>
    public long Sequence { get; set; }

    /// <summary>The pending WAIT, if any.</summary>
    public WaitEntry? Wait { get; set; }
}
