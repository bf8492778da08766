using System.CommandLine;
using System.Globalization;
using TcpStore.Client;
using TcpStore.Codec;

namespace TcpStore.Cli;

/// <summary>The options every client command takes, and how they turn into client options and printed values.</summary>
internal sealed class ClientCommandOptions
{
    public Option<string> Host { get; } = new("--host") { Description = "Server host name or address.", DefaultValueFactory = _ => "127.0.0.1" };

    public Option<int> Port { get; } = new("--port", "-p") { Description = "Server port.", DefaultValueFactory = _ => Protocol.DefaultPort };

    public Option<double> Timeout { get; } = new("--timeout", "-t")
    {
        Description = "Seconds to wait: for the connection (with retries), for keys, for a blocking pop and for each reply.",
        DefaultValueFactory = _ => 30,
    };

    public Option<double?> ConnectTimeout { get; } = new("--connect-timeout")
    {
        Description = "Seconds to keep trying to connect, if different from --timeout.",
    };

    public Option<bool> Raw { get; } = new("--raw") { Description = "Use keys exactly as given, without PyTorch's '/' prefix (shows internal keys such as init/)." };

    public Option<bool> Hex { get; } = new("--hex") { Description = "Values (given and printed) are hexadecimal." };

    public Option<bool> NoPing { get; } = new("--no-ping") { Description = "Do not PING when connecting (PyTorch 2.2-2.4 servers close on PING)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Host);
        command.Options.Add(Port);
        command.Options.Add(Timeout);
        command.Options.Add(ConnectTimeout);
        command.Options.Add(Raw);
        command.Options.Add(Hex);
        command.Options.Add(NoPing);
    }

    public TcpStoreClientOptions ToClientOptions(ParseResult parse)
    {
        var seconds = Seconds(parse.GetValue(Timeout), "--timeout");
        var connectSeconds = parse.GetValue(ConnectTimeout) is double connect ? Seconds(connect, "--connect-timeout") : seconds;

        return new TcpStoreClientOptions
        {
            Host = parse.GetValue(Host)!,
            Port = parse.GetValue(Port),
            Timeout = TimeSpan.FromSeconds(seconds),
            ConnectTimeout = TimeSpan.FromSeconds(connectSeconds),
            KeyPrefix = parse.GetValue(Raw) ? string.Empty : "/",
            UsePing = !parse.GetValue(NoPing),
            MaxIdleWaitConnections = 1,
        };
    }

    private static double Seconds(double value, string option)
        => double.IsNaN(value) || value < 0 || value > TimeSpan.MaxValue.TotalSeconds / 2
            ? throw new FormatException($"{option} must be a non-negative number of seconds")
            : value;

    /// <summary>A value argument as bytes: hex with <c>--hex</c>, else the UTF-8 text.</summary>
    public byte[] Value(ParseResult parse, string text)
    {
        if (!parse.GetValue(Hex))
        {
            return System.Text.Encoding.UTF8.GetBytes(text);
        }

        try
        {
            return Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new FormatException($"'{text}' is not hexadecimal");
        }
    }

    /// <summary>A value for printing: hex with <c>--hex</c>, else printable UTF-8 as is and anything else escaped.</summary>
    public string Show(ParseResult parse, byte[] value)
        => parse.GetValue(Hex) ? Convert.ToHexStringLower(value) : ByteText.Display(value);

    public static string Milliseconds(TimeSpan elapsed) => elapsed.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
}
