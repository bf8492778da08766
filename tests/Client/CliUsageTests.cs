using System.Globalization;

namespace TcpStore.Tests.Client;

/// <summary>
/// Every usage error of the <c>tcpstore</c> commands: one line on stderr naming the argument and what it allows,
/// exit 4, nothing on stdout, no stack trace, and no server needed.
/// </summary>
public sealed class CliUsageTests
{
    public static TheoryData<string[], string> UsageErrors => new()
    {
        { ["set"], "missing KEY" },
        { ["set", "k"], "missing VALUE" },
        { ["frobnicate"], "unknown command 'frobnicate'" },
        { [], "no command given" },
        { ["get", "foo", "--port", "abc"], "--port: 'abc' is not allowed: a port number, 1-65535" },
        { ["get", "foo", "--port", "99999"], "--port: '99999' is not allowed: a port number, 1-65535" },
        { ["get", "foo", "--endpoints", "127.0.0.1:1,127.0.0.1:2", "--host", "h"], "--endpoints: give either --endpoints or --host/--port, not both" },
        { ["get", "foo", "--endpoints", "127.0.0.1:1,,127.0.0.1:2"], "--endpoints: '127.0.0.1:1,,127.0.0.1:2' is not allowed: HOST:PORT[,HOST:PORT...]" },
        { ["get", "foo", "--endpoints", "127.0.0.1:1,127.0.0.1:http"], "endpoint '127.0.0.1:http': the port must be a number 0-65535" },
        { ["add", "cnt2", "1.5"], "N: '1.5' is not allowed: a whole number" },
        { ["ping", "--timeout", "abc"], "--timeout: 'abc' is not allowed: a number of seconds" },
        { ["ping", "--connect-timeout", "-1"], "--connect-timeout: '-1' is not allowed" },
        { ["set", "k", "v", "w"], "unexpected argument 'w'" },
        { ["get", "foo", "--prot", "1"], "unknown option '--prot' (options: --host, --port," },
        { ["set", "k", "zz", "--hex"], "VALUE: 'zz' is not allowed with --hex" },
        { ["set", "k", "v", "--file", "/nonexistent/file"], "give either VALUE or --file, not both" },
        { ["set", "k", "--file", "/nonexistent/file"], "--file: cannot read" },
        { ["mset", "a", "1", "b"], "the last key 'b' has no value" },
        { ["set", "k\uFFFD", "v"], "KEY: not valid UTF-8" },
        { ["set", "k", "v\uFFFD"], "VALUE: not valid UTF-8" },
        { ["serve", "--port", "99999"], "--port must be 0-65535 (got 99999)" },
        { ["serve", "--port", "http"], "--port: 'http' is not allowed: a whole number" },
        { ["serve", "--max-connections", "0"], "--max-connections must be 1 or more (got 0)" },
        { ["serve", "--loops", "-1"], "--loops must be 0 (automatic) to 1024 (got -1)" },
        { ["serve", "--transport", "carrier-pigeon"], "--transport: 'carrier-pigeon' is not allowed: one of Sockets, Epoll" },
        { ["serve", "--max-buffered-bytes", "10"], "--max-buffered-bytes must be 4096 to" },
        { ["serve", "--host", "nosuch.invalid", "--port", "0"], "--host: cannot resolve 'nosuch.invalid'" },
        { ["serve", "--config", "/nonexistent/tcpstore.json"], "--config: cannot use '/nonexistent/tcpstore.json'" },
        { ["serve", "--engine", "etcd", "--etcd-endpoints", "https://127.0.0.1:1", "--etcd-cert", "/nonexistent/c.pem"], "--etcd-cert and --etcd-key go together" },
        { ["serve", "--engine", "etcd", "--etcd-endpoints", "https://127.0.0.1:1", "--etcd-cacert", "/nonexistent/ca.pem"], "--etcd-cacert: no file '/nonexistent/ca.pem'" },
    };

    [Theory]
    [MemberData(nameof(UsageErrors))]
    public async Task A_usage_error_is_one_line_naming_the_argument_and_exits_4(string[] arguments, string expected)
    {
        // No server runs: an error found only after trying to connect would exit 3, not 4.
        AssertUsageError(await CliRunner.RunInProcessAsync(arguments), expected);
    }

    [Theory]
    [InlineData(new[] { "set" }, "missing KEY")]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "get", "foo", "--port", "abc" }, "--port: 'abc'")]
    [InlineData(new[] { "add", "cnt2", "1.5" }, "N: '1.5'")]
    [InlineData(new[] { "ping", "--timeout", "abc" }, "--timeout: 'abc'")]
    [InlineData(new[] { "serve", "--port", "99999" }, "--port must be 0-65535")]
    [InlineData(new[] { "serve", "--max-connections", "0" }, "--max-connections must be 1 or more")]
    [InlineData(new[] { "serve", "--loops", "-1" }, "--loops must be 0")]
    [InlineData(new[] { "serve", "--host", "nosuch.invalid", "--port", "0" }, "--host: cannot resolve")]
    [InlineData(new[] { "get", "foo", "--port", "99999" }, "--port: '99999'")]
    public async Task The_executable_exits_4_with_one_line(string[] arguments, string expected)
        => AssertUsageError(await CliRunner.RunAsync(arguments), expected);

    [Fact]
    public async Task Argument_bytes_that_are_not_utf8_are_refused_not_replaced()
    {
        // The shell hands the bytes ff fe to the executable as they are; .NET would turn them into U+FFFD.
        var shell = new System.Diagnostics.ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        shell.ArgumentList.Add("-c");
        shell.ArgumentList.Add("exec \"$0\" \"$1\" set bad \"$(printf '\\377\\376')\" --port 1");
        shell.ArgumentList.Add(CliRunner.DotnetHost());
        shell.ArgumentList.Add(CliRunner.ToolPath);
        using var process = System.Diagnostics.Process.Start(shell)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60));
        AssertUsageError(new CliRunner.Result(process.ExitCode, await stdout, stderr), "VALUE: not valid UTF-8");
    }

    [Fact]
    public async Task Help_names_every_argument_as_it_is_used()
    {
        var top = await CliRunner.RunInProcessAsync("--help");
        Assert.Equal(0, top.ExitCode);
        Assert.Matches(@"qpush <QUEUE> <VALUE>\s+Push VALUE onto QUEUE", top.Stdout);
        foreach (var command in new[] { "mget", "check", "wait" })
        {
            Assert.Matches($@"\n  {command} <KEY\.\.\.>\s", top.Stdout);
            var help = await CliRunner.RunInProcessAsync(command, "--help");
            Assert.Contains($"{command} <KEY>... [options]", help.Stdout, StringComparison.Ordinal);
        }

        Assert.Matches(@"\n  mset <KEY VALUE\.\.\.>\s", top.Stdout);

        var set = await CliRunner.RunInProcessAsync("set", "--help");
        Assert.Contains("--file", set.Stdout, StringComparison.Ordinal);
        Assert.Contains("'-' reads it from standard input", set.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_fails_within_the_connect_timeout_not_the_wait_timeout()
    {
        int port;
        await using (var gone = await Support.TestServer.StartAsync())
        {
            port = gone.Port;
        }

        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await CliRunner.RunInProcessAsync("ping", "--port", port.ToString(CultureInfo.InvariantCulture), "--timeout", "60", "--connect-timeout", "0.5");
        Assert.Equal(3, result.ExitCode);
        Assert.Contains("cannot connect", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("connection refused", result.Stderr, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"took {started.Elapsed}");

        // The default connect timeout is a few seconds, whatever --timeout says.
        var help = await CliRunner.RunInProcessAsync("ping", "--help");
        Assert.Matches(@"--connect-timeout[^\n]*\[default: 5\]", help.Stdout);
    }

    private static void AssertUsageError(CliRunner.Result result, string expected)
    {
        Assert.True(result.ExitCode == 4, $"expected exit 4: {result}");
        Assert.Empty(result.Stdout);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line: {result}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
    }
}
