using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TcpStore.Client;
using TcpStore.Codec;
using TcpStore.Server.Hosting;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary><c>services.AddTcpStoreServer(configuration.GetSection("TcpStore"))</c> under a real generic host, in-process.</summary>
public sealed class HostingTests
{
    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddTcpStoreServer(builder.Configuration.GetSection("TcpStore"));
        return builder.Build();
    }

    [Fact]
    public async Task The_hosted_server_binds_its_settings_serves_clients_and_stops_with_the_host()
    {
        using var host = Build(new()
        {
            ["TcpStore:Host"] = "127.0.0.1",
            ["TcpStore:Port"] = "0",
            ["TcpStore:MaxConnections"] = "2",
            ["TcpStore:MaxKeyBytes"] = "16",
        });
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<TcpStoreHostedService>();
        var port = service.LocalEndPoint!.Port;
        Assert.Equal("127.0.0.1", service.LocalEndPoint.Address.ToString());

        await using (var client = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions { Host = "127.0.0.1", Port = port, Timeout = TimeSpan.FromSeconds(10) }))
        {
            await client.SetAsync("k", "v");
            Assert.Equal("v", await client.GetStringAsync("k"));
        }

        // MaxKeyBytes and MaxConnections came from configuration: a 17-byte key closes its connection, and a
        // third connection is refused while two are open.
        using (var longKey = await RawClient.ConnectAsync(port))
        {
            await longKey.SendAsync(RawClient.Get(new string('k', 17)));
            Assert.True(await longKey.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        }

        using var first = await RawClient.ConnectAsync(port);
        using var second = await RawClient.ConnectAsync(port);
        Assert.True(await Eventually.TrueAsync(() => service.Server!.Metrics.Active == 2, TimeSpan.FromSeconds(10)));
        using var third = await RawClient.ConnectAsync(port, validate: false);
        Assert.True(await third.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));

        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.True(await first.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAnyAsync<SocketException>(async () => await RawClient.ConnectAsync(port));
    }

    [Theory]
    [InlineData("Port", "70000", "Port must be 0-65535 (got 70000)")]
    [InlineData("MaxConnections", "0", "MaxConnections must be 1 or more (got 0)")]
    [InlineData("Loops", "-1", "Loops must be 0 (automatic) to 1024 (got -1)")]
    [InlineData("MaxBufferedBytes", "100", "MaxBufferedBytes must be 4096 to")]
    public async Task Settings_out_of_range_stop_the_host_from_starting(string key, string value, string expected)
    {
        using var host = Build(new() { ["TcpStore:Port"] = "0", [$"TcpStore:{key}"] = value });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains(error.Failures, f => f.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_host_name_that_does_not_resolve_is_a_settings_error()
    {
        using var host = Build(new() { ["TcpStore:Port"] = "0", ["TcpStore:Host"] = "nosuch.invalid" });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("cannot resolve 'nosuch.invalid'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stopping_lets_replies_in_flight_finish_sending_before_closing()
    {
        using var host = Build(new()
        {
            ["TcpStore:Host"] = "127.0.0.1",
            ["TcpStore:Port"] = "0",
            ["TcpStore:MaxValueBytes"] = (16 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["TcpStore:DrainSeconds"] = "20",
        });
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<TcpStoreHostedService>();
        var port = service.LocalEndPoint!.Port;

        // Three 16 MiB replies are far more than the socket buffers hold while the client does not read.
        var value = new byte[16 << 20];
        new Random(7).NextBytes(value);
        using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Replies.Encode(
            WireRequest.KeyValue(QueryType.Set, RawClient.Key("big"), value),
            WireRequest.KeyOnly(QueryType.Get, RawClient.Key("big")),
            WireRequest.KeyOnly(QueryType.Get, RawClient.Key("big")),
            WireRequest.KeyOnly(QueryType.Get, RawClient.Key("big"))));

        // The first reply has started: the rest is queued in the server (more than the kernel's buffers hold).
        Assert.Equal(value.Length, await client.ReadInt64Async());
        var stopping = host.StopAsync(TestContext.Current.CancellationToken);
        await Task.Delay(200, TestContext.Current.CancellationToken);
        Assert.False(stopping.IsCompleted, "the host stopped before the replies were read");

        // A connection that arrives while replies drain is not served.
        using (var late = await RawClient.ConnectAsync(port, validate: false))
        {
            Assert.True(await late.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        }

        for (var i = 0; i < 3; i++)
        {
            if (i > 0)
            {
                Assert.Equal(value.Length, await client.ReadInt64Async());
            }

            Assert.Equal(value, await client.ReceiveExactlyAsync(value.Length, TimeSpan.FromSeconds(30)));
        }

        Assert.True(await client.IsClosedByServerAsync(TimeSpan.FromSeconds(10)));
        await stopping.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }
}
