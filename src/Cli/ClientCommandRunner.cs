using System.CommandLine;
using TcpStore.Client;

namespace TcpStore.Cli;

/// <summary>Connects for a client command, runs it, and maps the outcome to the documented exit codes.</summary>
internal static class ClientCommandRunner
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>A negative answer: keys not ready, queue empty.</summary>
    public const int Negative = 1;

    /// <summary>A wait ran out of time (the keys still missing go to stderr).</summary>
    public const int TimedOut = 2;

    /// <summary>Cannot connect, or the server closed the connection.</summary>
    public const int ConnectionFailed = 3;

    /// <summary>An argument could not be used (for example a value that is not hex with <c>--hex</c>).</summary>
    public const int BadInput = 4;

    public delegate Task<int> ClientAction(TcpStoreClient client, ParseResult parse, TextWriter output, CancellationToken cancellationToken);

    public static void SetAction(Command command, ClientCommandOptions common, ClientAction action)
    {
        command.SetAction((parse, cancellationToken) => RunAsync(parse, common, action, cancellationToken));
    }

    private static async Task<int> RunAsync(ParseResult parse, ClientCommandOptions common, ClientAction action, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        try
        {
            var options = common.ToClientOptions(parse);
            await using var client = await TcpStoreClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            return await action(client, parse, output, cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreTimeoutException ex)
        {
            await error.WriteLineAsync($"tcpstore: timeout: {ex.Message}").ConfigureAwait(false);
            return TimedOut;
        }
        catch (TcpStoreConnectionException ex)
        {
            await error.WriteLineAsync($"tcpstore: connection failed: {ex.Message}").ConfigureAwait(false);
            return ConnectionFailed;
        }
        catch (TcpStoreQueueEmptyException ex)
        {
            await error.WriteLineAsync($"tcpstore: {ex.Message}").ConfigureAwait(false);
            return Negative;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException)
        {
            await error.WriteLineAsync($"tcpstore: {ex.Message}").ConfigureAwait(false);
            return BadInput;
        }
    }

    /// <summary>
    /// Requests without a reply (SET, APPEND, MULTI_SET, QUEUE_PUSH) cannot fail visibly on their own: a server
    /// rejects them by closing the connection. An empty CHECK after them is a round trip every 2.x server answers,
    /// so a rejection shows up as a connection error instead of a silent success.
    /// </summary>
    public static async Task ConfirmAsync(TcpStoreClient client, CancellationToken cancellationToken)
        => await client.CheckAsync(Array.Empty<byte[]>(), cancellationToken).ConfigureAwait(false);
}
