using System.Globalization;
using TcpStore.Tests.Interop;

namespace TcpStore.Tests.Client;

/// <summary>
/// The <c>tcpstore</c> client commands end to end, per backend: every command through the command tree in-process
/// (parsing, output, exit codes), and the exit codes and stdout of the real executable as child processes.
/// </summary>
public abstract class CliTestsBase(Backend backend)
{
    [Fact]
    public async Task Every_command_prints_what_it_promises()
    {
        await using var server = await AnyServer.StartAsync(backend);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        Task<CliRunner.Result> Run(params string[] args) => CliRunner.RunInProcessAsync([.. args, "--port", port, "--timeout", "10"]);

        await Expect(Run("set", "greeting", "hello"), 0, string.Empty);
        await Expect(Run("get", "greeting"), 0, "hello\n");
        await Expect(Run("append", "greeting", " world"), 0, string.Empty);
        await Expect(Run("get", "greeting"), 0, "hello world\n");
        await Expect(Run("mset", "a", "1", "b", "2"), 0, string.Empty);
        await Expect(Run("mget", "a", "b", "greeting"), 0, "1\n2\nhello world\n");
        await Expect(Run("add", "n", "5"), 0, "5\n");
        await Expect(Run("add", "n", "-7"), 0, "-2\n");
        await Expect(Run("cas", "a", "1", "one"), 0, "one\n");
        await Expect(Run("cas", "a", "wrong", "x"), 0, "one\n");
        await Expect(Run("check", "a", "b"), 0, "ready\n");
        await Expect(Run("check", "a", "nope"), 1, "not ready\n");
        await Expect(Run("wait", "a", "b"), 0, string.Empty);
        await Expect(Run("del", "b"), 0, "1\n");
        await Expect(Run("del", "b"), 0, "0\n");
        await Expect(Run("keys"), 0, "a\ngreeting\nn\n");
        await Expect(Run("numkeys"), 0, "3\n");
        await Expect(Run("keys", "--raw"), 0, "/a\n/greeting\n/n\n");
        await Expect(Run("get", "--raw", "/n"), 0, "-2\n");

        // Binary values: escaped by default, hex on request, hex input with --hex.
        await Expect(Run("set", "--hex", "bin", "00ff0a41"), 0, string.Empty);
        await Expect(Run("get", "bin"), 0, "\\x00\\xff\\nA\n");
        await Expect(Run("get", "--hex", "bin"), 0, "00ff0a41\n");
        await Expect(Run("set", "--hex", "bad", "xyz"), 4, string.Empty);

        var ping = await Run("ping");
        Assert.Equal(0, ping.ExitCode);
        Assert.Matches(@"^pong [0-9.]+ ms\n$", ping.Stdout);

        // Waits that run out: exit 2, the missing keys named on stderr.
        var wait = await CliRunner.RunInProcessAsync("wait", "a", "missing1", "missing2", "--port", port, "--timeout", "0.3", "--connect-timeout", "10");
        Assert.Equal(2, wait.ExitCode);
        Assert.Contains("missing1, missing2", wait.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("a,", wait.Stderr, StringComparison.Ordinal);
        var get = await CliRunner.RunInProcessAsync("get", "absent", "--port", port, "--timeout", "0.3", "--connect-timeout", "10");
        Assert.Equal(2, get.ExitCode);
        Assert.Contains("absent", get.Stderr, StringComparison.Ordinal);
        Assert.Empty(get.Stdout);

        if (server.HasQueues)
        {
            await Expect(Run("qpush", "q", "first"), 0, string.Empty);
            await Expect(Run("qpush", "q", "second"), 0, string.Empty);
            await Expect(Run("qlen", "q"), 0, "2\n");
            await Expect(Run("qpop", "q"), 0, "first\n");
            await Expect(Run("qpop", "q", "--block"), 0, "second\n");
            await Expect(Run("qpop", "q"), 1, string.Empty);
            var blocked = await CliRunner.RunInProcessAsync("qpop", "q", "--block", "--port", port, "--timeout", "0.3", "--connect-timeout", "10");
            Assert.Equal(2, blocked.ExitCode);
        }
        else
        {
            // The legacy backend has no queues and closes the connection: exit 3, also for QUEUE_PUSH (no reply).
            await Expect(Run("qpush", "q", "v"), 3, string.Empty);
            await Expect(Run("qlen", "q"), 3, string.Empty);
            await Expect(Run("qpop", "q"), 3, string.Empty);
        }
    }

    [Fact]
    public async Task A_blocking_get_is_released_by_a_set_from_another_process()
    {
        await using var server = await AnyServer.StartAsync(backend);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        var get = CliRunner.RunAsync("get", "later", "--port", port, "--timeout", "30");
        await Task.Delay(1000);
        Assert.False(get.IsCompleted);
        await Expect(CliRunner.RunAsync("set", "later", "now", "--port", port), 0, string.Empty);
        var result = await get.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("now\n", result.Stdout);
    }

    [Fact]
    public async Task Keys_of_a_pytorch_worker_show_with_raw_only()
    {
        await using var server = await AnyServer.StartAsync(backend);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        await using (var torch = await RealPyTorchClient.ConnectAsync("127.0.0.1", server.Port, TimeSpan.FromSeconds(15), worldSize: 2))
        {
            await torch.SetAsync(RealPyTorchClient.Utf8("x"), RealPyTorchClient.Utf8("1"));
        }

        await Expect(CliRunner.RunInProcessAsync("keys", "--port", port), 0, "x\n");
        await Expect(CliRunner.RunInProcessAsync("keys", "--raw", "--port", port), 0, "/x\ninit/\n");
        await Expect(CliRunner.RunInProcessAsync("get", "--raw", "init/", "--port", port), 0, "1\n");
        await Expect(CliRunner.RunInProcessAsync("numkeys", "--port", port), 0, "2\n");
    }

    [Fact]
    public async Task The_executable_reports_through_exit_codes_and_stdout()
    {
        await using var server = await AnyServer.StartAsync(backend);
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        await Expect(CliRunner.RunAsync("set", "k", "v", "--port", port), 0, string.Empty);
        await Expect(CliRunner.RunAsync("mget", "k", "k", "--port", port), 0, "v\nv\n");
        await Expect(CliRunner.RunAsync("check", "k", "nope", "--port", port), 1, "not ready\n");
        var wait = await CliRunner.RunAsync("wait", "k", "nope", "--port", port, "--timeout", "0.3", "--connect-timeout", "10");
        Assert.Equal(2, wait.ExitCode);
        Assert.Contains("keys still missing: nope", wait.Stderr, StringComparison.Ordinal);
        await Expect(CliRunner.RunAsync("qlen", "q", "--port", port), server.HasQueues ? 0 : 3, server.HasQueues ? "0\n" : string.Empty);
    }

    private static async Task Expect(Task<CliRunner.Result> run, int exitCode, string stdout)
    {
        var result = await run;
        Assert.True(result.ExitCode == exitCode && result.Stdout == stdout, $"expected exit {exitCode} and stdout '{stdout}', got {result}");
    }
}

public sealed class CliOursTests() : CliTestsBase(Backend.Ours)
{
    [Fact]
    public async Task Unreachable_server_exits_3_and_help_works_for_every_command()
    {
        int port;
        await using (var gone = await Support.TestServer.StartAsync())
        {
            port = gone.Port;
        }

        var refused = await CliRunner.RunAsync("ping", "--port", port.ToString(CultureInfo.InvariantCulture), "--connect-timeout", "0.5");
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("cannot connect", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("connection refused", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", refused.Stderr, StringComparison.Ordinal);
        var helpProcess = await CliRunner.RunAsync("get", "--help");
        Assert.Equal(0, helpProcess.ExitCode);
        Assert.Contains("Wait for KEY", helpProcess.Stdout, StringComparison.Ordinal);

        foreach (var command in new[] { "set", "get", "append", "mset", "mget", "add", "cas", "del", "check", "wait", "keys", "numkeys", "qpush", "qpop", "qlen", "ping" })
        {
            var help = await CliRunner.RunInProcessAsync(command, "--help");
            Assert.Equal(0, help.ExitCode);
            Assert.Contains("--timeout", help.Stdout, StringComparison.Ordinal);
            Assert.Contains("--raw", help.Stdout, StringComparison.Ordinal);
        }
    }
}

public sealed class CliLibUvTests() : CliTestsBase(Backend.PyTorchLibUv);

public sealed class CliLegacyTests() : CliTestsBase(Backend.PyTorchLegacy);
