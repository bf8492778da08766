namespace TcpStore.Cli;

/// <summary>The exit codes of every <c>tcpstore</c> command (README, "Exit codes").</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>A negative answer: keys not ready, queue empty.</summary>
    public const int Negative = 1;

    /// <summary>A wait ran out of time (what is still missing goes to stderr).</summary>
    public const int TimedOut = 2;

    /// <summary>Cannot connect (or listen), or the server closed the connection (rejecting a request).</summary>
    public const int ConnectionFailed = 3;

    /// <summary>A usage error: an argument, option, configuration value or input that cannot be used.</summary>
    public const int Usage = 4;
}
