namespace TcpStore.Client;

/// <summary>A point in monotonic time (or never), so that retries and reads share one time budget.</summary>
internal readonly struct Deadline
{
    private readonly long _atMs;

    private Deadline(long atMs) => _atMs = atMs;

    public static Deadline Never => new(long.MaxValue);

    public bool IsNever => _atMs == long.MaxValue;

    public static Deadline After(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return Never;
        }

        var ms = (long)Math.Ceiling(timeout.TotalMilliseconds);
        return new(ms >= long.MaxValue - Environment.TickCount64 ? long.MaxValue : Environment.TickCount64 + ms);
    }

    /// <summary>Time left, never negative; <see cref="Timeout.InfiniteTimeSpan"/> for <see cref="Never"/>.</summary>
    public TimeSpan Remaining => IsNever
        ? Timeout.InfiniteTimeSpan
        : TimeSpan.FromMilliseconds(Math.Max(0, _atMs - Environment.TickCount64));

    public bool HasExpired => !IsNever && Environment.TickCount64 >= _atMs;
}
