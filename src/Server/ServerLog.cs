using System.Net;
using Microsoft.Extensions.Logging;

namespace TcpStore.Server;

/// <summary>
/// Every line the server writes to its log, in one place, with stable event ids an operator can filter and
/// alert on. docs/limits.md lists the same entries, and a test fails when the two disagree, so an id or a
/// message changed here is a change an operator is told about. Source-generated, so a call checks
/// <see cref="ILogger.IsEnabled"/> first and boxes nothing while the level is off.
/// </summary>
/// <remarks>
/// Ids are grouped by subject: 1xx the server's lifecycle, 2xx closed connections, 3xx wait reports.
/// Never reuse or renumber an id; retire it instead.
/// </remarks>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 100, EventName = "Listening", Level = LogLevel.Information, Message = "listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, EndPoint? endPoint);

    [LoggerMessage(EventId = 101, EventName = "Stopped", Level = LogLevel.Information, Message = "stopped: {Metrics}")]
    public static partial void Stopped(ILogger logger, ServerMetrics metrics);

    [LoggerMessage(EventId = 102, EventName = "DrainTimedOut", Level = LogLevel.Warning, Message = "stopping with replies still unsent after {Timeout}")]
    public static partial void DrainTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(
        EventId = 103,
        EventName = "ListenFdPortMismatch",
        Level = LogLevel.Warning,
        Message = "listen fd {Fd} is bound to port {Bound}, not the requested {Port}; using port {Bound}")]
    public static partial void ListenFdPortMismatch(ILogger logger, int fd, int bound, int port);

    [LoggerMessage(
        EventId = 104,
        EventName = "DescriptorLimitLow",
        Level = LogLevel.Warning,
        Message = "the process may open {Limit} files but the connection limit is {Max}; raise `ulimit -n` or lower --max-connections")]
    public static partial void DescriptorLimitLow(ILogger logger, long limit, int max);

    [LoggerMessage(EventId = 105, EventName = "AcceptFailed", Level = LogLevel.Warning, Message = "accept failed: {Error} ({Failures} failures since the last warning)")]
    public static partial void AcceptFailed(ILogger logger, string error, long failures);

    [LoggerMessage(EventId = 200, EventName = "ConnectionClosed", Level = LogLevel.Warning, Message = "closed connection from {Peer}: {Reason} ({Detail})")]
    public static partial void ConnectionClosed(ILogger logger, string peer, CloseReason reason, string detail);

    [LoggerMessage(
        EventId = 201,
        EventName = "ConnectionClosedAfterSuppressed",
        Level = LogLevel.Warning,
        Message = "closed connection from {Peer}: {Reason} ({Detail}); {Suppressed} similar lines suppressed")]
    public static partial void ConnectionClosedAfterSuppressed(ILogger logger, string peer, CloseReason reason, string detail, int suppressed);

    [LoggerMessage(EventId = 202, EventName = "ConnectionLost", Level = LogLevel.Debug, Message = "connection from {Peer} lost: {Detail}")]
    public static partial void ConnectionLost(ILogger logger, string peer, string detail);

    [LoggerMessage(EventId = 300, EventName = "Waiting", Level = LogLevel.Information, Message = "waiting: {Awaited}")]
    public static partial void Waiting(ILogger logger, string awaited);
}
