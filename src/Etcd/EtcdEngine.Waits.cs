using TcpStore.Codec;
using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>WAIT: register with this front-end's watch, then check; writes after the check's revision release it.</summary>
public sealed partial class EtcdEngine
{
    private async Task<(SessionError, long)> WaitAsync(EtcdRequest request, Session session, EtcdConnection connection, PooledBufferWriter reply)
    {
        // A new WAIT replaces the connection's earlier pending one, as on the in-memory engine.
        CancelWait(connection);

        // Registered before the check reads, so a write that lands between the check and the
        // registration cannot be missed: the hub buffers events until it knows the check's revision.
        var entry = _hub.Register(session, request.Keys);
        connection.Wait = entry;
        if (connection.Retired)
        {
            // Closed while this request was starting; Retire may have run before Wait was set.
            _hub.Cancel(entry);
            connection.Wait = null;
            return (ProtocolError.None, 0);
        }
        bool[] ready;
        long revision;
        try
        {
            (ready, revision) = await ReadinessAsync(request.Keys).ConfigureAwait(false);
        }
        catch
        {
            _hub.Cancel(entry);
            connection.Wait = null;
            throw;
        }

        if (_hub.Arm(entry, revision, ready))
        {
            connection.Wait = null;
            reply.WriteByte(Protocol.StopWaiting);
        }

        return (ProtocolError.None, 0);
    }
}
