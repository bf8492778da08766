using System.Text.Json;
using TcpStore.Server.Inspection;

namespace TcpStore.Server.Admin;

/// <summary>
/// What the live page polls (<c>/api/page</c>): one compact JSON snapshot, limited to the rows the
/// page shows, taken at most once a second (per world size) and shared by every open
/// page. Ten viewers cost the server what one does; a snapshot walks every connection and key, so
/// it is the admin listener's main cost under load (docs/performance.md, "Admin listener overhead").
/// </summary>
/// <remarks>
/// The scripting endpoints (<c>/api/inspect</c> and the rest) stay uncached: <c>tcpstore status</c>
/// right after a change must see it. The page refreshes every second anyway, so a snapshot up to a
/// second old loses it nothing.
/// </remarks>
internal sealed class PageFeed(TcpStoreServer server, int rows, TimeSpan maxAge)
{
    /// <summary>How long one snapshot serves every viewer: the page's own refresh interval.</summary>
    public static readonly TimeSpan PageInterval = TimeSpan.FromSeconds(1);

    private static readonly JsonSerializerOptions Compact = new(JsonSerializerDefaults.Web);
    private readonly Lock _gate = new();
    private Entry? _last;

    /// <summary>The page's JSON for <paramref name="worldSize"/>: the cached one while fresh, else a new snapshot.</summary>
    public byte[] Json(int? worldSize)
    {
        var now = Environment.TickCount64;
        // One viewer takes the snapshot while the others wait for it rather than each taking one.
        lock (_gate)
        {
            if (_last is { } last && last.WorldSize == worldSize && now - last.TakenTicks < (long)maxAge.TotalMilliseconds)
            {
                return last.Json;
            }

            var snapshot = AdminServer.Limit(server.Inspect(worldSize), rows);
            var json = JsonSerializer.SerializeToUtf8Bytes(snapshot, Compact);
            _last = new Entry(worldSize, Environment.TickCount64, json);
            return json;
        }
    }

    private sealed record Entry(int? WorldSize, long TakenTicks, byte[] Json);
}
