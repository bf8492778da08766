using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// A store engine whose operations may complete later (a network round trip), such as the etcd
/// engine. The in-memory engine, <see cref="KeyValueStore"/>, is not reached through this contract:
/// a <see cref="Session"/> without an engine calls it directly, synchronously and without allocating.
/// </summary>
/// <remarks>
/// A session has at most one request outstanding in its engine at a time and writes replies in
/// request order; the engine may be called from any thread and must never block the caller.
/// VALIDATE and PING never reach the engine.
/// </remarks>
public interface IStoreEngine
{
    /// <summary>
    /// Starts one validated request. The engine copies what it needs from <paramref name="request"/>
    /// before returning (its spans are only valid during the call).
    /// </summary>
    /// <param name="request">The parsed request.</param>
    /// <param name="session">
    /// The requesting connection: a WAIT that is not satisfied at once is released later through
    /// <see cref="Session.SignalWaitSatisfied"/>, as the in-memory wait registry does.
    /// </param>
    /// <param name="reply">
    /// Where the reply bytes go; the session owns it and reads it only after the returned task completes.
    /// </param>
    /// <returns>
    /// <see cref="SessionError.None"/>, or the error that closes the connection: for example
    /// <see cref="SessionFault.NonNumericAdd"/>, or <see cref="SessionFault.EngineUnavailable"/>
    /// when the engine could not give a correct answer.
    /// </returns>
    ValueTask<SessionError> ExecuteAsync(ref Request request, Session session, PooledBufferWriter reply);

    /// <summary>The connection is gone: forget its pending wait, if any.</summary>
    void Retire(Session session);
}
