using System.CommandLine;
using System.Globalization;
using TcpStore.Client;
using TcpStore.Codec;

namespace TcpStore.Cli;

/// <summary>The options every client command takes, and how they turn into client options and printed values.</summary>
internal sealed class ClientCommandOptions(Func<Stream> openInput)
{
    /// <summary>How long a client command keeps retrying a refused connection unless told otherwise.</summary>
    public const double DefaultConnectSeconds = 5;

    public Option<string> Host { get; } = new("--host") { Description = "Server host name or address.", DefaultValueFactory = _ => "127.0.0.1" };

    public Option<int> Port { get; } = new("--port", "-p")
    {
        Description = "Server port.",
        DefaultValueFactory = _ => Protocol.DefaultPort,
        CustomParser = ValueParsers.Int32(1, 65535, "a port number, 1-65535"),
    };

    public Option<string[]> Endpoints { get; } = new("--endpoints")
    {
        Description = "Several front-ends of one etcd-backed store, as HOST:PORT[,HOST:PORT...] (instead of --host/--port): "
            + "the first that answers is used, and safe requests move to the next when a connection breaks.",
        CustomParser = result =>
        {
            var items = result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.TrimEntries)).ToArray();
            if (items.Length == 0 || items.Any(i => i.Length == 0))
            {
                result.AddError($"--endpoints: '{ValueParsers.Text(result)}' is not allowed: HOST:PORT[,HOST:PORT...]");
            }

            return items;
        },
    };

    public Option<double> Timeout { get; } = new("--timeout", "-t")
    {
        Description = "Seconds to wait for keys, for a blocking pop and for each reply.",
        DefaultValueFactory = _ => 30,
        CustomParser = ValueParsers.Seconds,
    };

    public Option<double> ConnectTimeout { get; } = new("--connect-timeout")
    {
        Description = "Seconds to keep retrying a connection that is refused (the server may still be starting).",
        DefaultValueFactory = _ => DefaultConnectSeconds,
        CustomParser = ValueParsers.Seconds,
    };

    public Option<bool> Raw { get; } = new("--raw") { Description = "Use keys exactly as given, without PyTorch's '/' prefix (shows internal keys such as init/)." };

    public Option<bool> Hex { get; } = new("--hex") { Description = "Values (given and printed) are hexadecimal." };

    public Option<bool> NoPing { get; } = new("--no-ping") { Description = "Do not PING when connecting (PyTorch 2.2-2.4 servers close on PING)." };

    public void AddTo(Command command)
    {
        command.Options.Add(Host);
        command.Options.Add(Port);
        command.Options.Add(Endpoints);
        command.Options.Add(Timeout);
        command.Options.Add(ConnectTimeout);
        command.Options.Add(Raw);
        command.Options.Add(Hex);
        command.Options.Add(NoPing);
    }

    public TcpStoreClientOptions ToClientOptions(ParseResult parse)
    {
        var endpoints = parse.GetValue(Endpoints) ?? [];
        if (endpoints.Length > 0 && (parse.GetResult(Host) is { Implicit: false } || parse.GetResult(Port) is { Implicit: false }))
        {
            throw new UsageException("--endpoints: give either --endpoints or --host/--port, not both");
        }

        return new()
        {
            Endpoints = endpoints,
            Host = parse.GetValue(Host)!,
            Port = parse.GetValue(Port),
            Timeout = TimeSpan.FromSeconds(parse.GetValue(Timeout)),
            ConnectTimeout = TimeSpan.FromSeconds(parse.GetValue(ConnectTimeout)),
            KeyPrefix = parse.GetValue(Raw) ? string.Empty : "/",
            UsePing = !parse.GetValue(NoPing),
            MaxIdleWaitConnections = 1,
        };
    }

    /// <summary>A value argument as bytes: hex with <c>--hex</c>, else the UTF-8 text.</summary>
    public byte[] Value(ParseResult parse, string name, string text)
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
            throw new UsageException($"{name}: '{text}' is not allowed with --hex: an even number of hex digits");
        }
    }

    /// <summary>
    /// A value from wherever it was given: <c>--file PATH</c> (the file's bytes), <c>-</c> (standard input's bytes) or
    /// the argument itself (see <see cref="Value(ParseResult, string, string)"/>). Files and standard input have no
    /// size limit here; the server decides what it accepts.
    /// </summary>
    public async Task<byte[]> ValueAsync(ParseResult parse, Argument<string> argument, Option<FileInfo> file, CancellationToken cancellationToken)
    {
        var text = parse.GetValue(argument);
        var path = parse.GetValue(file);
        if (path is not null)
        {
            if (text is not null)
            {
                throw new UsageException($"{argument.Name}: give either {argument.Name} or --file, not both");
            }

            try
            {
                return await File.ReadAllBytesAsync(path.FullName, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--file: cannot read '{path}': {ex.Message}");
            }
        }

        if (text is null)
        {
            throw new UsageException($"missing {argument.Name}: give {argument.Name}, '-' to read standard input, or --file PATH");
        }

        if (text == "-")
        {
            using var buffer = new MemoryStream();
            await using var input = openInput();
            await input.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            return buffer.ToArray();
        }

        return Value(parse, argument.Name, text);
    }

    /// <summary>A value for printing: hex with <c>--hex</c>, else printable UTF-8 as is and anything else escaped.</summary>
    public string Show(ParseResult parse, byte[] value)
        => parse.GetValue(Hex) ? Convert.ToHexStringLower(value) : ByteText.Display(value);

    public static string Milliseconds(TimeSpan elapsed) => elapsed.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture);
}
