using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using TcpStore.Codec;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Server;

/// <summary>
/// <c>tcpstore serve --config FILE</c> as an operator runs it: the file, then <c>TCPSTORE_</c> variables, then
/// flags, each winning over the one before; and systemd's notify protocol (<c>Type=notify</c>).
/// </summary>
public sealed partial class ServeConfigTests
{
    private const int SIGTERM = 15;

    [Fact]
    public async Task Flags_win_over_environment_variables_which_win_over_the_config_file()
    {
        var file = Path.Combine(Path.GetTempPath(), $"tcpstore-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """
            {
              "TcpStore": { "Host": "127.0.0.1", "Port": 29500, "MaxKeyBytes": 4, "MaxValueBytes": 10 }
            }
            """, TestContext.Current.CancellationToken);
        try
        {
            // File: key <= 4, value <= 10, port 29500. Environment: key <= 8, value <= 20. Flags: value <= 30, port 0.
            using var process = Start(
                ["serve", "--config", file, "--max-value-bytes", "30", "--port", "0"],
                new() { ["TCPSTORE_MAX_KEY_BYTES"] = "8", ["TCPSTORE_MaxValueBytes"] = "20" });
            try
            {
                var port = await ListeningPortAsync(process);
                Assert.True(await AcceptsAsync(port, key: "k234567", valueLength: 25), "a 7-byte key (environment) and a 25-byte value (flag) were refused");
                Assert.False(await AcceptsAsync(port, key: "k2345678x", valueLength: 1), "a 9-byte key was accepted");
                Assert.False(await AcceptsAsync(port, key: "k", valueLength: 31), "a 31-byte value was accepted");

                Assert.Equal(0, Kill(process.Id, SIGTERM));
                await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(0, process.ExitCode);
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_bad_value_in_the_config_file_names_its_key_and_exits_4()
    {
        var file = Path.Combine(Path.GetTempPath(), $"tcpstore-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "TcpStore": { "Port": 0, "MaxConnections": -3 } }""", TestContext.Current.CancellationToken);
        try
        {
            using var process = Start(["serve", "--config", file], []);
            var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(4, process.ExitCode);
            Assert.Equal("tcpstore serve: TcpStore:MaxConnections must be 1 or more (got -3)\n", stderr);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Under_systemd_it_notifies_ready_once_listening_and_stopping_on_SIGTERM()
    {
        // .NET's systemd integration is on when the parent process is named "systemd": a copy of the shell under
        // that name starts the server as its child and passes NOTIFY_SOCKET, as systemd does for Type=notify.
        var dir = Directory.CreateTempSubdirectory("tcpstore-systemd-");
        try
        {
            var shell = Path.Combine(dir.FullName, "systemd");
            File.Copy("/bin/sh", shell);
            var socketPath = Path.Combine(dir.FullName, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));

            var info = new ProcessStartInfo(shell) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add("\"$0\" serve --port 0 --host 127.0.0.1 & echo \"pid $!\"; wait $!");
            info.ArgumentList.Add(ToolExecutable);
            info.Environment["NOTIFY_SOCKET"] = socketPath;
            using var shellProcess = Process.Start(info) ?? throw new InvalidOperationException("sh did not start");
            var pidLine = await shellProcess.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var serverPid = int.Parse(pidLine!["pid ".Length..], CultureInfo.InvariantCulture);
            try
            {
                var listening = await shellProcess.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.StartsWith("listening on 127.0.0.1:", listening, StringComparison.Ordinal);
                Assert.Contains("READY=1", await ReceiveAsync(notify), StringComparison.Ordinal);

                Assert.Equal(0, Kill(serverPid, SIGTERM));
                Assert.Contains("STOPPING=1", await ReceiveAsync(notify), StringComparison.Ordinal);
                await shellProcess.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(0, shellProcess.ExitCode);
            }
            finally
            {
                _ = Kill(serverPid, 9);
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string ToolExecutable => Path.Combine(AppContext.BaseDirectory, "tcpstore");

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[1024];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var count = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
        return Encoding.UTF8.GetString(buffer, 0, count);
    }

    // A SET then a CHECK: the CHECK's reply arrives if the server took the SET, the connection closes if not.
    private static async Task<bool> AcceptsAsync(int port, string key, int valueLength)
    {
        using var client = await RawClient.ConnectAsync(port);
        await client.SendAsync(Replies.Encode(
            WireRequest.KeyValue(QueryType.Set, RawClient.Key(key), new byte[valueLength]),
            WireRequest.Multi(QueryType.Check, [RawClient.Key(key)])));
        try
        {
            return await client.ReadByteAsync() == Protocol.CheckReady;
        }
        catch (Exception ex) when (ex is EndOfStreamException or SocketException)
        {
            return false;
        }
    }

    private static async Task<int> ListeningPortAsync(Process process)
    {
        var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        var match = Regex.Match(line ?? string.Empty, @"^listening on 127\.0\.0\.1:(\d+)$");
        Assert.True(match.Success, $"first stdout line: '{line}'");
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static Process Start(string[] arguments, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(ToolExecutable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("tcpstore did not start");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
