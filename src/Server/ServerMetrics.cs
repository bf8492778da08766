using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TcpStore.Server;

/// <summary>
/// Counters of one server, published on the <c>TcpStore.Server</c> meter (readable with
/// dotnet-counters or any OpenTelemetry exporter) and mirrored in plain fields for tests and logs.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "TcpStore.Server";

    private static readonly CloseReason[] Reasons = Enum.GetValues<CloseReason>();
    private readonly Meter _meter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _closed;
    private readonly long[] _closedByReason = new long[Reasons.Length];
    private readonly KeyValuePair<string, object?>[][] _reasonTags;
    private readonly Counter<long> _readPauses;
    private long _acceptedCount;
    private long _readPauseCount;
    private long _active;

    /// <summary>Creates the instruments.</summary>
    public ServerMetrics()
    {
        _meter = new Meter(MeterName);
        _accepted = _meter.CreateCounter<long>("tcpstore.connections.accepted", description: "Connections accepted.");
        _closed = _meter.CreateCounter<long>("tcpstore.connections.closed", description: "Connections closed, by reason.");
        _readPauses = _meter.CreateCounter<long>("tcpstore.connections.read_pauses", description: "Times a connection stopped being read because its unsent output reached the high-water mark.");
        _meter.CreateObservableUpDownCounter("tcpstore.connections.active", () => Volatile.Read(ref _active), description: "Open connections.");
        _reasonTags = new KeyValuePair<string, object?>[Reasons.Length][];
        foreach (var reason in Reasons)
        {
            _reasonTags[(int)reason] = [new("reason", reason.ToString())];
        }
    }

    /// <summary>This server's meter (exporters read only their own server's instruments).</summary>
    internal Meter Meter => _meter;

    /// <summary>Connections accepted since start.</summary>
    public long Accepted => Volatile.Read(ref _acceptedCount);

    /// <summary>Connections open now.</summary>
    public long Active => Volatile.Read(ref _active);

    /// <summary>Times a connection stopped being read because its unsent output reached the high-water mark.</summary>
    public long ReadPauses => Volatile.Read(ref _readPauseCount);

    /// <summary>Connections closed for <paramref name="reason"/> since start.</summary>
    public long Closed(CloseReason reason) => Volatile.Read(ref _closedByReason[(int)reason]);

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();

    internal void OnAccepted()
    {
        Interlocked.Increment(ref _acceptedCount);
        Interlocked.Increment(ref _active);
        _accepted.Add(1);
    }

    internal void OnReadPaused()
    {
        Interlocked.Increment(ref _readPauseCount);
        _readPauses.Add(1);
    }

    internal void OnClosed(CloseReason reason, bool wasActive)
    {
        if (wasActive)
        {
            Interlocked.Decrement(ref _active);
        }

        Interlocked.Increment(ref _closedByReason[(int)reason]);
        _closed.Add(1, _reasonTags[(int)reason]);
    }

    /// <summary>One line per non-zero close reason, for logs.</summary>
    public override string ToString()
    {
        var parts = new List<string> { $"accepted={Accepted}", $"active={Active}" };
        if (ReadPauses > 0)
        {
            parts.Add($"readPauses={ReadPauses}");
        }

        foreach (var reason in Reasons)
        {
            var count = Closed(reason);
            if (count > 0)
            {
                parts.Add($"{reason}={count}");
            }
        }

        return string.Join(' ', parts);
    }

    internal static CloseReason ToCloseReason(TcpStore.Core.SessionError error) => error.Fault switch
    {
        TcpStore.Core.SessionFault.BufferLimit => CloseReason.BufferLimit,
        TcpStore.Core.SessionFault.EngineUnavailable => CloseReason.EngineUnavailable,
        TcpStore.Core.SessionFault.NonNumericAdd => CloseReason.NonNumericAdd,
        _ => ToCloseReason(error.Protocol),
    };

    private static CloseReason ToCloseReason(TcpStore.Codec.ProtocolError error) => error switch
    {
        TcpStore.Codec.ProtocolError.NotValidated => CloseReason.NotValidated,
        TcpStore.Codec.ProtocolError.RepeatedValidate => CloseReason.RepeatedValidate,
        TcpStore.Codec.ProtocolError.UnknownCommand => CloseReason.UnknownCommand,
        TcpStore.Codec.ProtocolError.KeyTooLong => CloseReason.KeyTooLong,
        TcpStore.Codec.ProtocolError.ValueTooLong => CloseReason.ValueTooLong,
        TcpStore.Codec.ProtocolError.TooManyKeys => CloseReason.TooManyKeys,
        _ => throw new UnreachableException(error.ToString()),
    };
}
