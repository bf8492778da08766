namespace TcpStore.Core;

/// <summary>
/// A party that can wait on keys: in the server, one per connection. The store keeps the
/// waiter's outstanding count and registrations; the waiter only reacts when the count reaches 0.
/// </summary>
/// <remarks>
/// The store guards these fields with its shard locks: a registration is only touched under the
/// lock of the shard of its key, and the chain of registrations and <see cref="Shards"/> only while
/// every shard in <see cref="Shards"/> is held. Wake-ups on different shards can complete the same
/// WAIT concurrently, so <see cref="Remaining"/> is decremented atomically and exactly one of them
/// takes it to zero.
/// </remarks>
public abstract class Waiter
{
    /// <summary>Keys still awaited by the current WAIT (duplicates count twice).</summary>
    internal int Remaining;

    /// <summary>This waiter's registrations, chained through <see cref="WaitRegistration.NextOfWaiter"/>.</summary>
    internal WaitRegistration? Registrations;

    /// <summary>
    /// A superset of the shards (one bit each) that hold registrations of this waiter. Only the
    /// waiter's own WAIT and CANCEL_WAIT and its retirement write it, holding all those shards.
    /// </summary>
    internal ulong Shards;

    /// <summary>Set once the waiter is gone for good (connection closed); it is never registered again.</summary>
    internal bool Retired;

    /// <summary><see cref="Environment.TickCount64"/> when the current (or last) WAIT started waiting.</summary>
    internal long WaitingSince;

    /// <summary>Whether a WAIT of this waiter is still pending.</summary>
    public bool IsWaiting => Volatile.Read(ref Remaining) > 0;

    /// <summary>
    /// Called once every awaited key is present. It runs under a shard lock of the store, possibly
    /// on another connection's thread, so it must only record the event and return: no blocking, no
    /// I/O, no calls back into the store.
    /// </summary>
    protected internal abstract void OnWaitSatisfied();
}
