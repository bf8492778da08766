using System.Globalization;
using TcpStore.Client;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Client;

/// <summary>
/// Several endpoints: connecting to the first that answers, moving to the next when a connection breaks, sending
/// again only what is safe. Two independent in-memory servers stand in for two front-ends here, which makes a write
/// sent again visible (the etcd tests use front-ends of one store).
/// </summary>
public sealed class ClientFailoverTests
{
    [Theory]
    [InlineData("127.0.0.1:29501", "127.0.0.1", 29501)]
    [InlineData("[::1]:7", "::1", 7)]
    [InlineData("[::1]", "::1", 29500)]
    [InlineData("::1", "::1", 29500)]
    [InlineData(" store.example ", "store.example", 29500)]
    public void Endpoints_parse_as_host_and_port(string text, string host, int port)
        => Assert.Equal(new ServerEndpoint(host, port), ServerEndpoint.Parse(text, 29500));

    [Theory]
    [InlineData("host:http")]
    [InlineData("host:70000")]
    [InlineData(":5")]
    [InlineData("[::1")]
    [InlineData("")]
    public async Task A_malformed_endpoint_is_refused_before_connecting(string text)
    {
        var options = new TcpStoreClientOptions { Endpoints = ["127.0.0.1:1", text] };
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await TcpStoreClient.ConnectAsync(options));
    }

    [Fact]
    public async Task The_client_connects_to_the_first_endpoint_that_answers()
    {
        var dead = await DeadPortAsync();
        await using var live = await TestServer.StartAsync();
        await using var client = await TcpStoreClient.ConnectAsync(Options(dead, live.Port));
        Assert.Equal($"127.0.0.1:{live.Port}", client.Endpoint);
        Assert.Equal([$"127.0.0.1:{dead}", $"127.0.0.1:{live.Port}"], client.Endpoints);
        Assert.Equal(1, await client.AddAsync("n", 1));
    }

    [Fact]
    public async Task When_no_endpoint_answers_the_error_names_each()
    {
        var first = await DeadPortAsync();
        var second = await DeadPortAsync();
        var options = Options(first, second);
        options.ConnectTimeout = TimeSpan.FromMilliseconds(500);
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(async () => await TcpStoreClient.ConnectAsync(options));
        Assert.Equal($"127.0.0.1:{first},127.0.0.1:{second}", ex.Endpoint);
        Assert.Contains($"127.0.0.1:{first}: connection refused; 127.0.0.1:{second}: connection refused", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_without_a_reply_are_sent_again_on_the_next_endpoint_and_reads_are_retried()
    {
        var a = await TestServer.StartAsync();
        await using var b = await TestServer.StartAsync();
        await using var client = await TcpStoreClient.ConnectAsync(Options(a.Port, b.Port));
        await client.SetAsync("k", "v");
        await client.MultiSetAsync(["m1", "m2"], ["1", "2"]);
        await a.DisposeAsync();

        // Nothing confirmed the writes on A, so they went to B again before the GET, which itself moved to B.
        Assert.Equal("v", await client.GetStringAsync("k"));
        Assert.Equal($"127.0.0.1:{b.Port}", client.Endpoint);
        Assert.Equal(["1", "2"], (await client.MultiGetAsync(["m1", "m2"])).Select(v => System.Text.Encoding.UTF8.GetString(v)));
    }

    [Fact]
    public async Task An_append_whose_connection_closed_before_a_reply_is_reported_as_unknown_and_not_sent_again()
    {
        var a = await TestServer.StartAsync();
        await using var b = await TestServer.StartAsync();
        await using var client = await TcpStoreClient.ConnectAsync(Options(a.Port, b.Port));
        await client.SetAsync("before", "x");
        await client.AppendAsync("log", "entry");
        await a.DisposeAsync();

        var ex = await Assert.ThrowsAsync<TcpStoreOutcomeUnknownException>(async () => await client.CheckAsync(["before"]));
        Assert.Equal("APPEND", ex.Request);
        Assert.Equal($"127.0.0.1:{b.Port}", ex.Endpoint);

        // The SET before it was sent again, the APPEND was not, and the client goes on.
        Assert.True(await client.CheckAsync(["before"]));
        Assert.False(await client.CheckAsync(["log"]));
    }

    [Fact]
    public async Task With_one_endpoint_nothing_is_retried_unless_asked()
    {
        var a = await TestServer.StartAsync();
        await using var client = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions { Port = a.Port, ConnectTimeout = TimeSpan.FromSeconds(10) });
        var waiting = client.WaitAsync(["never"], TimeSpan.FromSeconds(30)).AsTask();
        await Task.Delay(200);
        await a.DisposeAsync();
        var ex = await Assert.ThrowsAsync<TcpStoreConnectionException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.IsNotType<TcpStoreOutcomeUnknownException>(ex);
    }

    [Fact]
    public async Task The_cli_takes_several_endpoints()
    {
        var dead = (await DeadPortAsync()).ToString(CultureInfo.InvariantCulture);
        await using var live = await TestServer.StartAsync();
        var endpoints = $"127.0.0.1:{dead},127.0.0.1:{live.Port}";
        var set = await CliRunner.RunInProcessAsync("set", "k", "v", "--endpoints", endpoints);
        Assert.Equal(0, set.ExitCode);
        var get = await CliRunner.RunInProcessAsync("get", "k", "--endpoints", endpoints);
        Assert.Equal((0, "v\n"), (get.ExitCode, get.Stdout));
    }

    private static TcpStoreClientOptions Options(int first, int second) => new()
    {
        Endpoints = [$"127.0.0.1:{first}", $"127.0.0.1:{second}"],
        Timeout = TimeSpan.FromSeconds(20),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        InitialBackoff = TimeSpan.FromMilliseconds(50),
    };

    private static async Task<int> DeadPortAsync()
    {
        await using var gone = await TestServer.StartAsync();
        return gone.Port;
    }
}
