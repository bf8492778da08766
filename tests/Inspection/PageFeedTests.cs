using System.Text.Json;
using TcpStore.Server.Admin;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Inspection;

/// <summary>The live page's feed: one snapshot shared by every viewer while fresh, limited to the page's rows.</summary>
[Collection("Inspection")]
public sealed class PageFeedTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Viewers_share_one_snapshot_while_it_is_fresh_and_a_new_world_size_takes_its_own()
    {
        await using var store = await TestServer.StartAsync();
        var feed = new PageFeed(store.Server, rows: 200, maxAge: TimeSpan.FromHours(1));
        var first = feed.Json(worldSize: null);
        store.Server.Store.Set("k"u8, "v"u8);

        // Still fresh: the same bytes, without the new key (no second snapshot was taken).
        Assert.Same(first, feed.Json(worldSize: null));
        Assert.Equal(0, Keys(first));

        var eight = feed.Json(worldSize: 8);
        Assert.Equal(1, Keys(eight));
        using var doc = JsonDocument.Parse(eight);
        Assert.Equal(8, doc.RootElement.GetProperty("server").GetProperty("worldSize").GetInt32());

        var uncached = new PageFeed(store.Server, rows: 200, maxAge: TimeSpan.Zero);
        var before = uncached.Json(worldSize: null);
        store.Server.Store.Set("k2"u8, "v"u8);
        Assert.Equal(2, Keys(uncached.Json(worldSize: null)));
        Assert.Equal(1, Keys(before));
    }

    [Fact]
    public async Task The_feed_carries_only_the_rows_the_page_shows_and_the_full_counts()
    {
        await using var store = await TestServer.StartAsync();
        var clients = new List<RawClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await RawClient.ConnectAsync(store.Port));
            }

            Assert.True(await Eventually.TrueAsync(() => store.Server.Inspect().Server.Connections == 3));
            var feed = new PageFeed(store.Server, rows: 2, maxAge: TimeSpan.Zero);
            using var doc = JsonDocument.Parse(feed.Json(worldSize: null));
            Assert.Equal(2, doc.RootElement.GetProperty("clients").GetArrayLength());
            Assert.Equal(3, doc.RootElement.GetProperty("server").GetProperty("connections").GetInt32());
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task The_live_page_polls_the_shared_feed_which_the_admin_listener_serves()
    {
        await using var host = await AdminHost.StartAsync();
        var page = await Http.GetStringAsync(new Uri(host.Url + "/"));
        Assert.Contains("fetch(\"api/page\"", page, StringComparison.Ordinal);

        using var feed = JsonDocument.Parse(await Http.GetStringAsync(new Uri(host.Url + "/api/page?world=4")));
        Assert.Equal(4, feed.RootElement.GetProperty("server").GetProperty("worldSize").GetInt32());
        Assert.Equal(JsonValueKind.Array, feed.RootElement.GetProperty("clients").ValueKind);
    }

    private static int Keys(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.GetProperty("server").GetProperty("keys").GetInt32();
    }
}
