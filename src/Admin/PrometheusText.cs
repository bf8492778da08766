using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace TcpStore.Server.Admin;

/// <summary>
/// Renders one server's <c>TcpStore.Server</c> instruments in the Prometheus text format (0.0.4).
/// </summary>
/// <remarks>
/// Why our own formatter rather than OpenTelemetry.Exporter.Prometheus.AspNetCore or prometheus-net:
/// the OpenTelemetry exporter is still a prerelease (1.20.1-beta.1) and pulls the SDK's whole
/// pipeline in for a dozen instruments; prometheus-net would need its own instrument types or an
/// adapter, so the meter would be published twice. A <see cref="MeterListener"/> reads the same
/// System.Diagnostics.Metrics instruments dotnet-counters and OpenTelemetry see, scoped to this
/// server's meters (several servers can share a process, as the tests do), and the text format is
/// small and checked by <c>promtool check metrics</c> in the tests.
/// </remarks>
internal sealed class PrometheusText : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly HashSet<Meter> _meters;
    private readonly ConcurrentDictionary<(Instrument Instrument, string Labels), double> _sums = new();
    private readonly Dictionary<(Instrument Instrument, string Labels), double> _observed = [];
    private readonly List<Instrument> _instruments = [];
    private readonly Lock _scrape = new();

    public PrometheusText(IEnumerable<Meter> meters)
    {
        _meters = [.. meters];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (_meters.Contains(instrument.Meter))
            {
                lock (_instruments)
                {
                    _instruments.Add(instrument);
                }

                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => OnMeasurement(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The content type Prometheus expects for this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Reads every instrument now and formats the result.</summary>
    public string Scrape()
    {
        lock (_scrape)
        {
            _observed.Clear();
            _listener.RecordObservableInstruments();
            List<Instrument> instruments;
            lock (_instruments)
            {
                instruments = [.. _instruments];
            }

            var text = new StringBuilder();
            foreach (var instrument in instruments.OrderBy(i => i.Name, StringComparer.Ordinal))
            {
                var observable = instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal);
                var counter = instrument.GetType().Name is "Counter`1" or "ObservableCounter`1";
                var name = MetricName(instrument, counter);
                text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(instrument.Description ?? instrument.Name)).Append('\n');
                text.Append("# TYPE ").Append(name).Append(counter ? " counter\n" : " gauge\n");
                var series = observable
                    ? _observed.Where(p => p.Key.Instrument == instrument).ToList()
                    : _sums.Where(p => p.Key.Instrument == instrument).ToList();
                if (series.Count == 0 && !observable)
                {
                    // A counter that never fired still has a value: zero.
                    text.Append(name).Append(" 0\n");
                }

                foreach (var (key, value) in series.OrderBy(p => p.Key.Labels, StringComparer.Ordinal))
                {
                    text.Append(name).Append(key.Labels).Append(' ').Append(Number(value)).Append('\n');
                }
            }

            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnMeasurement<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
        var key = (instrument, Labels(tags));
        if (instrument.IsObservable)
        {
            // Only during RecordObservableInstruments, which runs under the scrape lock.
            _observed[key] = number;
        }
        else if (instrument.GetType().Name is "Counter`1" or "UpDownCounter`1")
        {
            _sums.AddOrUpdate(key, number, (_, sum) => sum + number);
        }
        else
        {
            _sums[key] = number;
        }
    }

    // tcpstore.wait.oldest (unit s) -> tcpstore_wait_oldest_seconds; counters end in _total.
    private static string MetricName(Instrument instrument, bool counter)
    {
        var name = new StringBuilder();
        foreach (var c in instrument.Name)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }

        if (instrument.Unit == "s")
        {
            name.Append("_seconds");
        }

        if (counter)
        {
            name.Append("_total");
        }

        return name.ToString();
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return string.Empty;
        }

        var text = new StringBuilder("{");
        for (var i = 0; i < tags.Length; i++)
        {
            if (i > 0)
            {
                text.Append(',');
            }

            text.Append(tags[i].Key.Replace('.', '_')).Append("=\"");
            foreach (var c in Convert.ToString(tags[i].Value, CultureInfo.InvariantCulture) ?? string.Empty)
            {
                text.Append(c switch
                {
                    '\\' => "\\\\",
                    '"' => "\\\"",
                    '\n' => "\\n",
                    _ => c.ToString(),
                });
            }

            text.Append('"');
        }

        return text.Append('}').ToString();
    }

    private static string EscapeHelp(string help) => help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
