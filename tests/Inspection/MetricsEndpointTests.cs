using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using TcpStore.Tests.Interop;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Inspection;

/// <summary>/metrics checked by Debian's promtool and scraped by a real Prometheus; the other plain endpoints.</summary>
[Collection("Inspection")]
public sealed class MetricsEndpointTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static async Task<HostWithTraffic> StartWithTrafficAsync()
    {
        var host = await AdminHost.StartAsync();
        await using var client = await RealPyTorchClient.ConnectAsync("127.0.0.1", host.Store.Port, TimeSpan.FromSeconds(30));
        foreach (var i in Enumerable.Range(0, 3))
        {
            await client.SetAsync(RankJob.Utf8("k" + i), RankJob.Utf8("v"));
        }

        await client.AddAsync(RankJob.Utf8("counter"), 5);
        return new HostWithTraffic(host);
    }

    [Fact]
    public async Task Metrics_pass_promtool_and_count_requests_by_type_including_closed_connections()
    {
        await using var started = await StartWithTrafficAsync();
        var host = started.Host;

        // The client above has closed: its counters must survive it.
        Assert.True(await Eventually.TrueAsync(() => host.Store.Server.Metrics.Active == 0));
        var text = await Http.GetStringAsync(new Uri(host.Url + "/metrics"));
        Assert.Contains("tcpstore_requests_total{type=\"Set\"} 3\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_requests_total{type=\"Add\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_keys 4\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_connections_accepted_total 1\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_connections_closed_total{reason=\"ClientClosed\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_connections_active 0\n", text, StringComparison.Ordinal);
        Assert.Matches(@"tcpstore_bytes_received_total [1-9]\d*\n", text);
        Assert.Matches(@"tcpstore_bytes_sent_total [1-9]\d*\n", text);
        Assert.Contains("tcpstore_waiters 0\n", text, StringComparison.Ordinal);
        Assert.Contains("tcpstore_wait_oldest_seconds 0\n", text, StringComparison.Ordinal);

        var (exit, output) = await RunAsync("/usr/bin/promtool", ["check", "metrics"], text);
        Assert.True(exit == 0, $"promtool check metrics failed ({exit}): {output}\n{text}");
    }

    [Fact]
    public async Task A_real_prometheus_scrapes_the_endpoint()
    {
        await using var started = await StartWithTrafficAsync();
        var host = started.Host;
        var dir = Directory.CreateTempSubdirectory("tcpstore-prometheus-");
        var port = FreePort();
        var target = new Uri(host.Url).Authority;
        await File.WriteAllTextAsync(Path.Combine(dir.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: tcpstore
                static_configs:
                  - targets: ["{target}"]
            """);
        var psi = new ProcessStartInfo("/usr/bin/prometheus") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "--config.file=" + Path.Combine(dir.FullName, "prometheus.yml"), "--storage.tsdb.path=" + Path.Combine(dir.FullName, "data"),
            "--web.listen-address=127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture),
        })
        {
            psi.ArgumentList.Add(argument);
        }

        using var prometheus = Process.Start(psi)!;
        var log = prometheus.StandardError.ReadToEndAsync();
        _ = prometheus.StandardOutput.ReadToEndAsync();
        try
        {
            var api = $"http://127.0.0.1:{port}/api/v1/query?query=";
            Assert.True(
                await EventuallyAsync(async () => await QueryAsync(api + "up%7Bjob%3D%22tcpstore%22%7D") == "1", TimeSpan.FromSeconds(60)),
                "the target never came up");
            Assert.True(
                await EventuallyAsync(async () => await QueryAsync(api + "tcpstore_requests_total%7Btype%3D%22Set%22%7D") == "3", TimeSpan.FromSeconds(30)),
                "tcpstore_requests_total{type=\"Set\"} was never 3");
            Assert.Equal("4", await QueryAsync(api + "tcpstore_keys"));
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            _ = await log;
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Health_readiness_and_keys_hide_values_unless_asked_and_escape_keys()
    {
        await using var host = await AdminHost.StartAsync();
        host.Store.Server.Store.Set([.. "bin\u0001"u8, 0xff], "secret"u8);
        Assert.Equal("ok\n", await Http.GetStringAsync(new Uri(host.Url + "/healthz")));
        Assert.Equal("ready\n", await Http.GetStringAsync(new Uri(host.Url + "/readyz")));

        using var keys = JsonDocument.Parse(await Http.GetStringAsync(new Uri(host.Url + "/api/keys")));
        var key = Assert.Single(keys.RootElement.EnumerateArray());
        Assert.Equal("bin\\x01\\xff", key.GetProperty("key").GetString());
        Assert.Equal(6, key.GetProperty("size").GetInt32());
        Assert.Equal(JsonValueKind.Null, key.GetProperty("value").ValueKind);

        await using var shown = await AdminHost.StartAsync(showValues: true);
        shown.Store.Server.Store.Set("k"u8, "v\n"u8);
        using var withValues = JsonDocument.Parse(await Http.GetStringAsync(new Uri(shown.Url + "/api/keys")));
        Assert.Equal("v\\x0a", Assert.Single(withValues.RootElement.EnumerateArray()).GetProperty("value").GetString());

        var page = await Http.GetStringAsync(new Uri(host.Url + "/"));
        Assert.DoesNotContain("<script src", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("http://", page.Replace(host.Url, string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
    }

    [Fact]
    public void A_non_loopback_admin_address_needs_the_explicit_flag()
    {
        var options = new TcpStore.Server.Admin.AdminOptions { Host = IPAddress.Any, Port = 0 };
        Assert.Throws<ArgumentException>(options.Validate);
        options.AllowRemote = true;
        options.Validate();
    }

    private static async Task<string?> QueryAsync(string url)
    {
        try
        {
            using var doc = JsonDocument.Parse(await Http.GetStringAsync(new Uri(url)));
            var result = doc.RootElement.GetProperty("data").GetProperty("result");
            return result.GetArrayLength() == 1 ? result[0].GetProperty("value")[1].GetString() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(250);
        }

        return true;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, string[] arguments, string stdin)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(stdin);
        process.StandardInput.Close();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    private sealed class HostWithTraffic(AdminHost host) : IAsyncDisposable
    {
        public AdminHost Host { get; } = host;

        public ValueTask DisposeAsync() => Host.DisposeAsync();
    }
}
