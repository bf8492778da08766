using System.Globalization;
using System.Text;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Client;

/// <summary>
/// How the client commands take values (argument, <c>-</c> for standard input, <c>--file</c>, <c>--hex</c>) and print
/// them, and how they report what the server did: against our server, in-process and as the executable.
/// </summary>
public sealed class CliValueTests
{
    [Fact]
    public async Task Values_come_from_stdin_or_a_file_at_any_size_and_come_back_byte_for_byte()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);

        // Far past what a shell passes as one argument (about 128 KiB per argument on Linux).
        var big = new byte[3 * 1024 * 1024];
        new Random(13).NextBytes(big);
        var file = Path.Combine(Path.GetTempPath(), $"tcpstore-cli-{Guid.NewGuid():N}.bin");
        await File.WriteAllBytesAsync(file, big, TestContext.Current.CancellationToken);
        try
        {
            Assert.Equal(0, (await CliRunner.RunInProcessAsync("set", "from-file", "--file", file, "--port", port)).ExitCode);
            Assert.Equal(0, (await CliRunner.RunWithInputAsync(big, "set", "from-stdin", "-", "--port", port)).ExitCode);
            Assert.Equal(0, (await CliRunner.RunInProcessWithInputAsync("tail"u8.ToArray(), "append", "from-stdin", "-", "--port", port)).ExitCode);
        }
        finally
        {
            File.Delete(file);
        }

        var fromFile = await CliRunner.RunInProcessAsync("get", "from-file", "--hex", "--port", port);
        Assert.Equal(Convert.ToHexStringLower(big) + "\n", fromFile.Stdout);
        var fromStdin = await CliRunner.RunAsync("get", "from-stdin", "--hex", "--port", port);
        Assert.Equal(Convert.ToHexStringLower([.. big, .. "tail"u8.ToArray()]) + "\n", fromStdin.Stdout);
    }

    [Fact]
    public async Task Text_that_looks_escaped_and_the_bytes_it_describes_print_differently()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, (await CliRunner.RunInProcessAsync("set", "text", @"a\xff", "--port", port)).ExitCode);
        Assert.Equal(0, (await CliRunner.RunInProcessAsync("set", "bytes", "61ff", "--hex", "--port", port)).ExitCode);

        var text = await CliRunner.RunInProcessAsync("get", "text", "--port", port);
        var bytes = await CliRunner.RunInProcessAsync("get", "bytes", "--port", port);
        Assert.Equal(@"a\\xff" + "\n", text.Stdout);
        Assert.Equal(@"a\xff" + "\n", bytes.Stdout);
        Assert.Equal("615c786666\n", (await CliRunner.RunInProcessAsync("get", "text", "--hex", "--port", port)).Stdout);
    }

    [Fact]
    public async Task A_request_the_server_rejects_is_reported_as_rejected_not_as_a_failed_connection()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, (await CliRunner.RunInProcessAsync("set", "word", "hello", "--port", port)).ExitCode);

        var add = await CliRunner.RunAsync("add", "word", "1", "--port", port);
        Assert.Equal(3, add.ExitCode);
        Assert.Contains("rejected by the server", add.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot connect", add.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_blocking_pop_that_times_out_names_the_queue_not_missing_keys()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        var pop = await CliRunner.RunInProcessAsync("qpop", "jobs", "--block", "--timeout", "0.3", "--port", port);
        Assert.Equal(2, pop.ExitCode);
        Assert.Contains("queue 'jobs' stayed empty for 0.3 s", pop.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("missing", pop.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_given_as_text_is_stored_as_its_utf8_bytes()
    {
        await using var server = await TestServer.StartAsync();
        var port = server.Port.ToString(CultureInfo.InvariantCulture);
        Assert.Equal(0, (await CliRunner.RunAsync("set", "greeting", "päivää", "--port", port)).ExitCode);
        var hex = await CliRunner.RunInProcessAsync("get", "greeting", "--hex", "--port", port);
        Assert.Equal(Convert.ToHexStringLower(Encoding.UTF8.GetBytes("päivää")) + "\n", hex.Stdout);
    }
}
