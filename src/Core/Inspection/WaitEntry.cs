namespace TcpStore.Core.Inspection;

/// <summary>One key awaited by one waiter, copied out of the wait registry for diagnostics.</summary>
/// <param name="Waiter">The waiting party (in the server, a connection's session).</param>
/// <param name="Key">The awaited key (the registry's own copy: do not modify).</param>
/// <param name="SinceTicks"><see cref="Environment.TickCount64"/> when the waiter's WAIT started.</param>
public readonly record struct WaitEntry(Waiter Waiter, byte[] Key, long SinceTicks);
