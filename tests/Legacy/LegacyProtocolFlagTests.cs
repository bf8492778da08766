using System.Diagnostics;
using System.Globalization;
using TcpStore.Codec;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Legacy;

/// <summary><c>tcpstore serve --legacy-protocol</c>: each value selects its table; anything else is a usage error.</summary>
public sealed class LegacyProtocolFlagTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("1.13")]
    [InlineData("2.0")]
    [InlineData("2.1")]
    [InlineData("off")]
    public async Task The_flag_selects_the_table_of_pre_2_2_connections(string? value)
    {
        using var process = Start(value is null ? [] : ["--legacy-protocol", value]);
        try
        {
            var line = await process.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            var port = int.Parse(line![(line!.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
            using var client = await RawClient.ConnectAsync(port, validate: false);
            // SET /k "x", then code 8 with the key: DELETE_KEY in 1.13/2.0 (replies 1), APPEND in 2.1
            // (with a value; no reply), then GET /k.
            byte[] set = [0, .. Blob("/k"), .. Blob("x")];
            byte[] eight = value == "2.1" ? [8, .. Blob("/k"), .. Blob("yz")] : [8, .. Blob("/k")];
            await client.SendAsync([.. set, .. eight, 2, .. Blob("/k")]);
            switch (value)
            {
                case "off":
                    Assert.True(await client.IsClosedByServerAsync());
                    break;
                case "2.1":
                    Assert.Equal(Blob("xyz"), await client.ReceiveExactlyAsync(11));
                    break;
                default:
                    Assert.Equal(Concat(Int64(1), Blob(string.Empty)), await client.ReceiveExactlyAsync(16));
                    break;
            }
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_unknown_value_is_a_usage_error()
    {
        using var process = Start(["--legacy-protocol", "1.12"]);
        var stderr = await process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotEqual(0, process.ExitCode);
        Assert.Contains("1.12", stderr, StringComparison.Ordinal);
    }

    private static Process Start(string[] extra)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "tcpstore.exe" : "tcpstore");
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["serve", "--port", "0", "--host", "127.0.0.1", "--wait-report-seconds", "0", .. extra])
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("tcpstore did not start");
    }
}
