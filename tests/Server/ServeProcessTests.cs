using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>The `tcpstore serve` executable as an operator runs it: one stdout line, clean exit on SIGTERM.</summary>
public sealed partial class ServeProcessTests
{
    private const int SIGTERM = 15;

    [Theory]
    [InlineData(new string[0], @"^listening on \[::\]:(\d+)$")]
    [InlineData(new[] { "--host", "127.0.0.1" }, @"^listening on 127\.0\.0\.1:(\d+)$")]
    [InlineData(new[] { "--host", "127.0.0.1", "--loops", "3" }, @"^listening on 127\.0\.0\.1:(\d+)$")]
    [InlineData(new[] { "--host", "127.0.0.1", "--transport", "sockets" }, @"^listening on 127\.0\.0\.1:(\d+)$")]
    [InlineData(new[] { "--host", "127.0.0.1", "--admin-port", "0" }, @"^listening on 127\.0\.0\.1:(\d+)$")]
    public async Task Port_0_prints_one_listening_line_serves_and_exits_0_on_SIGTERM(string[] extra, string pattern)
    {
        using var process = Start(["serve", "--port", "0", .. extra]);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var match = Regex.Match(line ?? string.Empty, pattern);
            Assert.True(match.Success, $"first stdout line: '{line}'");
            var port = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(port, 1, 65535);

            using (var client = await RawClient.ConnectAsync(port))
            {
                await client.SendAsync(Replies.Encode(WireRequest.KeyValue(QueryType.Set, RawClient.Key("k"), RawClient.Key("v")), WireRequest.KeyOnly(QueryType.Get, RawClient.Key("k"))));
                Assert.Equal(Replies.Blob("v"), await client.ReceiveExactlyAsync(9));
            }

            Assert.Equal(0, Kill(process.Id, SIGTERM));
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, process.ExitCode);
            var rest = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
            Assert.True(rest.Length == 0, $"more stdout after the listening line: '{rest}'");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync(CancellationToken.None);
            }

            _ = await stderr;
        }
    }

    [Fact]
    public async Task SIGTERM_with_connected_and_waiting_clients_still_exits_0()
    {
        using var process = Start(["serve", "--port", "0", "--host", "127.0.0.1"]);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var port = int.Parse(line![(line!.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            using var waiter = await RawClient.ConnectAsync(port);
            await waiter.SendAsync(Replies.Encode(WireRequest.Multi(QueryType.Wait, [RawClient.Key("never")])));
            Assert.True(await waiter.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(100)));

            Assert.Equal(0, Kill(process.Id, SIGTERM));
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(0, process.ExitCode);
            Assert.True(await waiter.IsClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
                await process.WaitForExitAsync(CancellationToken.None);
            }

            _ = await stderr;
        }
    }

    private static Process Start(string[] arguments)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "tcpstore.exe" : "tcpstore");
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("tcpstore did not start");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
