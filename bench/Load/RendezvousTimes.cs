namespace TcpStore.Bench.Load;

/// <summary>What one N-rank rendezvous measured, whichever engine ran the ranks.</summary>
/// <param name="Connected">Start to the last rank's connect completing.</param>
/// <param name="Released">The last rank's SET (sent by the rank that saw the count reach N) to the last STOP_WAITING.</param>
/// <param name="Total">Start to every rank released (or failed).</param>
/// <param name="Failures">Ranks that failed or timed out.</param>
public sealed record RendezvousTimes(TimeSpan Connected, TimeSpan Released, TimeSpan Total, int Failures);
