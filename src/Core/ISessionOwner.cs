namespace TcpStore.Core;

/// <summary>
/// What a <see cref="Session"/> needs from the transport connection that owns it: to be told when a
/// wake-up added output while the session was idle, so the connection flushes it.
/// </summary>
public interface ISessionOwner
{
    /// <summary>
    /// A wake-up added output while the session was not processing input. Called under the store's
    /// lock from the waker's thread: it must only schedule the flush, never send or call the store.
    /// </summary>
    void OnWakeWhileIdle();
}
