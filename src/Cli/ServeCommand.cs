using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using TcpStore.Codec;
using TcpStore.Server;

namespace TcpStore.Cli;

/// <summary>The <c>tcpstore serve</c> command: runs the server in the foreground until SIGTERM or Ctrl-C.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var host = new Option<string?>("--host") { Description = "Address to listen on (default: dual-stack [::], falling back to 0.0.0.0)." };
        var port = new Option<int>("--port", "-p") { Description = "TCP port; 0 picks a free one.", DefaultValueFactory = _ => Protocol.DefaultPort };
        var listenFd = new Option<int?>("--listen-fd") { Description = "Adopt an already-bound socket file descriptor instead of binding." };
        var maxKey = new Option<long>("--max-key-bytes") { Description = "Longest key or queue name.", DefaultValueFactory = _ => CodecLimits.Default.MaxKeyLength };
        var maxValue = new Option<long>("--max-value-bytes") { Description = "Longest value.", DefaultValueFactory = _ => CodecLimits.Default.MaxValueLength };
        var maxKeys = new Option<long>("--max-keys-per-request") { Description = "Most keys in one CHECK/WAIT/MULTI_GET/MULTI_SET.", DefaultValueFactory = _ => CodecLimits.Default.MaxKeysPerRequest };
        var maxConnections = new Option<int>("--max-connections") { Description = "Most open connections; more are closed at accept.", DefaultValueFactory = _ => 100_000 };
        var maxBuffered = new Option<long>("--max-buffered-bytes") { Description = "Most bytes one connection may hold (unread input + unsent output).", DefaultValueFactory = _ => 64L * 1024 * 1024 };
        var highWater = new Option<long>("--output-high-water-bytes") { Description = "Stop reading a connection while this many bytes of its replies are unsent; resume below half (capped by --max-buffered-bytes).", DefaultValueFactory = _ => new TcpStoreServerOptions().OutputHighWaterBytes };
        var sendTimeout = new Option<double>("--send-timeout-seconds") { Description = "Close a connection whose replies stay unsent with no progress this long (0 = never).", DefaultValueFactory = _ => new TcpStoreServerOptions().SendTimeout.TotalSeconds };
        var waitReport = new Option<double>("--wait-report-seconds") { Description = "Log the keys that connections wait for every N seconds while any do (0 = never).", DefaultValueFactory = _ => 30 };
        var warningsPerSecond = new Option<int>("--warnings-per-second") { Description = "Most close warnings logged per second for each reason; the rest are counted and summarized.", DefaultValueFactory = _ => new TcpStoreServerOptions().WarningsPerSecond };
        var transport = new Option<ServerTransport>("--transport") { Description = "I/O layer: Sockets (.NET socket engine) or Epoll (our own epoll loops, see --loops; Linux x86-64).", DefaultValueFactory = _ => ServerTransport.Epoll };
        var loops = new Option<int>("--loops") { Description = "Epoll transport: event loop threads; 0 = one per two processors this process may use (at least one).", DefaultValueFactory = _ => 0 };
        var logLevel = new Option<LogLevel>("--log-level") { Description = "Minimum level logged to stderr.", DefaultValueFactory = _ => LogLevel.Information };

        var command = new Command("serve", "Run a TCPStore server (in-memory) that PyTorch clients connect to.")
        {
            host, port, listenFd, maxKey, maxValue, maxKeys, maxConnections, maxBuffered, highWater, sendTimeout, warningsPerSecond, waitReport, transport, loops, logLevel,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var hostText = parse.GetValue(host);
            IPAddress? address = null;
            if (!string.IsNullOrEmpty(hostText) && !IPAddress.TryParse(hostText.Trim('[', ']'), out address))
            {
                var resolved = await Dns.GetHostAddressesAsync(hostText, cancellationToken).ConfigureAwait(false);
                address = resolved.FirstOrDefault() ?? throw new ArgumentException($"cannot resolve host '{hostText}'");
            }

            var options = new TcpStoreServerOptions
            {
                Host = address,
                Port = parse.GetValue(port),
                ListenFd = parse.GetValue(listenFd),
                MaxKeyLength = parse.GetValue(maxKey),
                MaxValueLength = parse.GetValue(maxValue),
                MaxKeysPerRequest = parse.GetValue(maxKeys),
                MaxConnections = parse.GetValue(maxConnections),
                MaxBufferedBytesPerConnection = parse.GetValue(maxBuffered),
                OutputHighWaterBytes = parse.GetValue(highWater),
                SendTimeout = TimeSpan.FromSeconds(parse.GetValue(sendTimeout)),
                WaitReportInterval = TimeSpan.FromSeconds(parse.GetValue(waitReport)),
                Transport = parse.GetValue(transport),
                EventLoops = parse.GetValue(loops),
                WarningsPerSecond = parse.GetValue(warningsPerSecond),
            };
            return await RunAsync(options, parse.GetValue(logLevel), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(TcpStoreServerOptions options, LogLevel level, CancellationToken cancellationToken)
    {
        using var loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(level)
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                o.UseUtcTimestamp = true;
            })
            .Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var logger = loggerFactory.CreateLogger<TcpStoreServer>();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        await using var server = new TcpStoreServer(options, logger);
        try
        {
            await server.StartAsync(stop.Token).ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            await Console.Error.WriteLineAsync($"tcpstore: cannot listen on port {options.Port}: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        Console.Out.WriteLine($"listening on {server.LocalEndPoint}");
        Console.Out.Flush();
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or Ctrl-C: fall through to a clean stop.
        }

        await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }
}
