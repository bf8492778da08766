namespace TcpStore.Core;

/// <summary>
/// A party that can wait on keys: in the server, one per connection. The store keeps the
/// waiter's outstanding count and registrations; the waiter only reacts when the count reaches 0.
/// All fields are guarded by the store's write lock.
/// </summary>
public abstract class Waiter
{
    /// <summary>Keys still awaited by the current WAIT (duplicates count twice).</summary>
    internal int Remaining;

    /// <summary>This waiter's registrations, chained through <see cref="WaitRegistration.NextOfWaiter"/>.</summary>
    internal WaitRegistration? Registrations;

    /// <summary>Set once the waiter is gone for good (connection closed); it is never registered again.</summary>
    internal bool Retired;

    /// <summary><see cref="Environment.TickCount64"/> when the current (or last) WAIT started waiting.</summary>
    internal long WaitingSince;

    /// <summary>Whether a WAIT of this waiter is still pending.</summary>
    public bool IsWaiting => Remaining > 0;

    /// <summary>
    /// Called once every awaited key is present. It runs under the store's write lock, possibly on
    /// another connection's thread, so it must only record the event and return: no blocking, no
    /// I/O, no calls back into the store.
    /// </summary>
    protected internal abstract void OnWaitSatisfied();
}
