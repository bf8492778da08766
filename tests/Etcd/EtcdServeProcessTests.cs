using System.Diagnostics;
using System.Text.RegularExpressions;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary><c>tcpstore serve --engine Etcd</c> as an operator runs it: two processes over one cluster share the keys.</summary>
[Collection(EtcdCollection.Name)]
public sealed class EtcdServeProcessTests(EtcdTestCluster cluster)
{
    [Fact]
    public async Task Two_serve_processes_with_the_etcd_engine_share_one_store()
    {
        var endpoints = string.Join(',', cluster.Endpoints.Select(u => u.ToString().TrimEnd('/')));
        string[] args = ["serve", "--port", "0", "--host", "127.0.0.1", "--engine", "etcd", "--etcd-endpoints", endpoints, "--etcd-prefix", EtcdFrontEnd.NewPrefix()];
        using var first = Start(args);
        using var second = Start(args);
        // Drain stderr (the logs) so a process never blocks on a full pipe.
        var logs = new[] { first.StandardError.ReadToEndAsync(CancellationToken.None), second.StandardError.ReadToEndAsync(CancellationToken.None) };
        try
        {
            var ports = await Task.WhenAll(ListeningPortAsync(first), ListeningPortAsync(second));
            using (var writer = await RawClient.ConnectAsync(ports[0]))
            {
                await writer.SendAsync(Replies.Encode(WireRequest.KeyValue(QueryType.Set, RawClient.Key("k"), RawClient.Key("v")), WireRequest.Ping(5)));
                Assert.Equal(Replies.UInt32(5), await writer.ReceiveExactlyAsync(4));
            }

            using var reader = await RawClient.ConnectAsync(ports[1]);
            await reader.SendAsync(Replies.Encode(WireRequest.KeyOnly(QueryType.Get, RawClient.Key("k"))));
            Assert.Equal(Replies.Blob("v"), await reader.ReceiveExactlyAsync(9));
        }
        finally
        {
            foreach (var process in new[] { first, second })
            {
                if (!process.HasExited)
                {
                    process.Kill();
                    await process.WaitForExitAsync(CancellationToken.None);
                }
            }

            await Task.WhenAll(logs);
        }
    }

    [Fact]
    public async Task Etcd_engine_without_endpoints_is_a_usage_error()
    {
        using var process = Start(["serve", "--port", "0", "--engine", "etcd"]);
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4, process.ExitCode); // a usage error, as every other bad serve setting
        Assert.Contains("--etcd-endpoints", stderr, StringComparison.Ordinal);
    }

    private static async Task<int> ListeningPortAsync(Process process)
    {
        var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var match = Regex.Match(line ?? string.Empty, @"^listening on 127\.0\.0\.1:(\d+)$");
        Assert.True(match.Success, $"first stdout line: '{line}'");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Process Start(string[] arguments)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "tcpstore"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("tcpstore did not start");
        return process;
    }
}
