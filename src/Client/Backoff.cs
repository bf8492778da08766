namespace TcpStore.Client;

/// <summary>Exponential backoff with jitter between connection attempts (PyTorch's shape: x1.5, ±50 %).</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private const double Factor = 1.5;
    private const double Jitter = 0.5;
    private double _nextMs = Math.Max(1, initial.TotalMilliseconds);

    public TimeSpan Next()
    {
        var baseMs = Math.Min(_nextMs, max.TotalMilliseconds);
        _nextMs = Math.Min(_nextMs * Factor, max.TotalMilliseconds);
        var jittered = baseMs * (1 - Jitter + (Random.Shared.NextDouble() * 2 * Jitter));
        return TimeSpan.FromMilliseconds(Math.Max(1, jittered));
    }
}
