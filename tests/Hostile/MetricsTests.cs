using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using TcpStore.Codec;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Hostile;

/// <summary>Close reasons reach operators through System.Diagnostics.Metrics, tagged by reason.</summary>
[Collection(HostileCollection.Name)]
public sealed class MetricsTests
{
    [Fact]
    public async Task Closed_connections_are_published_on_the_meter_by_reason()
    {
        var closed = new ConcurrentQueue<string>();
        long accepted = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "tcpstore.connections.closed")
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "reason")
                    {
                        closed.Enqueue((string)tag.Value!);
                    }
                }
            }
            else if (instrument.Name == "tcpstore.connections.accepted")
            {
                Interlocked.Add(ref accepted, value);
            }
        });
        listener.Start();

        await using var server = await HostileServer.StartAsync(o => o.LegacyProtocol = LegacyProtocol.Off);
        using (var bad = await RawClient.ConnectAsync(server.Port))
        {
            await bad.SendAsync(RawClientFrames.Bare(200));
            Assert.True(await bad.IsClosedByServerAsync());
        }

        using (var unvalidated = await RawClient.ConnectAsync(server.Port, validate: false))
        {
            await unvalidated.SendAsync(RawClient.Get("/x"));
            Assert.True(await unvalidated.IsClosedByServerAsync());
        }

        await HostileServer.EventuallyAsync(() => closed.Count >= 2, "closes were not published");
        Assert.Contains(nameof(CloseReason.UnknownCommand), closed);
        Assert.Contains(nameof(CloseReason.NotValidated), closed);
        Assert.True(Interlocked.Read(ref accepted) >= 2);
    }
}
