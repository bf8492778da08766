using System.Diagnostics.Metrics;

namespace TcpStore.Server.Inspection;

/// <summary>
/// The inspection instruments on the <c>TcpStore.Server</c> meter: all observable, so they cost
/// nothing until a listener (dotnet-counters, OpenTelemetry, the admin /metrics) reads them, and
/// reading sums the per-connection counters then.
/// </summary>
internal sealed class InspectionMetrics : IDisposable
{
    public InspectionMetrics(TcpStoreServer server)
    {
        Meter = new Meter(ServerMetrics.MeterName);
        Meter.CreateObservableCounter("tcpstore.requests", () => Requests(server), unit: "{request}", description: "Requests executed, by query type.");
        Meter.CreateObservableCounter("tcpstore.bytes.received", () => server.Totals().BytesIn, unit: "By", description: "Request bytes received.");
        Meter.CreateObservableCounter("tcpstore.bytes.sent", () => server.Totals().BytesOut, unit: "By", description: "Reply bytes sent.");
        Meter.CreateObservableGauge("tcpstore.keys", () => server.Store.KeyCount, unit: "{key}", description: "Keys in the store.");
        Meter.CreateObservableGauge("tcpstore.waiters", () => server.WaitSummary().Waiting, unit: "{connection}", description: "Connections with a pending WAIT.");
        Meter.CreateObservableGauge("tcpstore.wait.oldest", () => server.WaitSummary().OldestSeconds, unit: "s", description: "Age of the oldest pending WAIT.");
    }

    /// <summary>The meter the instruments belong to (the admin exporter reads only this server's meters).</summary>
    public Meter Meter { get; }

    public void Dispose() => Meter.Dispose();

    private static IEnumerable<Measurement<long>> Requests(TcpStoreServer server)
    {
        foreach (var (type, count) in server.Totals().ByType)
        {
            yield return new Measurement<long>(count, new KeyValuePair<string, object?>("type", type));
        }
    }
}
