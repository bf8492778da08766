using Microsoft.Extensions.Logging;

namespace TcpStore.Server;

/// <summary>
/// Logs at most N warnings per second for each close reason, so a hostile client cannot flood the
/// log; suppressed lines are counted and reported with the next line that gets through.
/// </summary>
internal sealed class RateLimitedWarnings(ILogger logger, int perSecond)
{
    private readonly Lock _gate = new();
    private readonly long[] _windowStart = new long[Enum.GetValues<CloseReason>().Length];
    private readonly int[] _inWindow = new int[Enum.GetValues<CloseReason>().Length];
    private readonly int[] _suppressed = new int[Enum.GetValues<CloseReason>().Length];

    public void Warn(CloseReason reason, string peer, string detail)
    {
        if (!logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        int suppressed;
        lock (_gate)
        {
            var now = Environment.TickCount64;
            var i = (int)reason;
            if (now - _windowStart[i] >= 1000)
            {
                _windowStart[i] = now;
                _inWindow[i] = 0;
            }

            if (_inWindow[i] >= perSecond)
            {
                _suppressed[i]++;
                return;
            }

            _inWindow[i]++;
            suppressed = _suppressed[i];
            _suppressed[i] = 0;
        }

        if (suppressed > 0)
        {
            ServerLog.ConnectionClosedAfterSuppressed(logger, peer, reason, detail, suppressed);
        }
        else
        {
            ServerLog.ConnectionClosed(logger, peer, reason, detail);
        }
    }
}
