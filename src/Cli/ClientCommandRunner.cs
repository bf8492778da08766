using System.CommandLine;
using TcpStore.Client;

namespace TcpStore.Cli;

/// <summary>Connects for a client command, runs it, and maps the outcome to the documented exit codes (<see cref="ExitCodes"/>).</summary>
internal static class ClientCommandRunner
{
    public delegate Task<int> ClientAction(TcpStoreClient client, ParseResult parse, TextWriter output, CancellationToken cancellationToken);

    public delegate Task<int> ClientAction<in T>(TcpStoreClient client, ParseResult parse, T input, TextWriter output, CancellationToken cancellationToken);

    public static void SetAction(Command command, ClientCommandOptions common, ClientAction action)
        => SetAction(command, common, static (_, _) => Task.FromResult(0), (client, parse, _, output, token) => action(client, parse, output, token));

    /// <summary>
    /// Sets an action whose input is read and checked by <paramref name="prepare"/> before connecting, so a usage
    /// error (<see cref="UsageException"/>) is reported without a server.
    /// </summary>
    public static void SetAction<T>(Command command, ClientCommandOptions common, Func<ParseResult, CancellationToken, Task<T>> prepare, ClientAction<T> action)
    {
        command.SetAction((parse, cancellationToken) => RunAsync(parse, common, prepare, action, cancellationToken));
    }

    private static async Task<int> RunAsync<T>(
        ParseResult parse, ClientCommandOptions common, Func<ParseResult, CancellationToken, Task<T>> prepare, ClientAction<T> action, CancellationToken cancellationToken)
    {
        var output = parse.InvocationConfiguration.Output;
        var error = parse.InvocationConfiguration.Error;
        T input;
        TcpStoreClientOptions options;
        try
        {
            input = await prepare(parse, cancellationToken).ConfigureAwait(false);
            options = common.ToClientOptions(parse);
        }
        catch (UsageException ex)
        {
            await error.WriteLineAsync($"tcpstore {parse.CommandResult.Command.Name}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        TcpStoreClient client;
        try
        {
            client = await TcpStoreClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (TcpStoreException ex)
        {
            await error.WriteLineAsync($"tcpstore: cannot connect: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.ConnectionFailed;
        }
        catch (ArgumentException ex)
        {
            await error.WriteLineAsync($"tcpstore: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        await using (client.ConfigureAwait(false))
        {
            try
            {
                return await action(client, parse, input, output, cancellationToken).ConfigureAwait(false);
            }
            catch (TcpStoreTimeoutException ex)
            {
                await error.WriteLineAsync($"tcpstore: timeout: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.TimedOut;
            }
            catch (TcpStoreConnectionException ex)
            {
                // Connected, then the connection ended: servers reject a request (a non-numeric ADD, an unknown
                // command on the legacy backend) by closing the connection instead of answering.
                await error.WriteLineAsync($"tcpstore: rejected by the server (it closed the connection): {ex.Message}").ConfigureAwait(false);
                return ExitCodes.ConnectionFailed;
            }
            catch (TcpStoreQueueEmptyException ex)
            {
                await error.WriteLineAsync($"tcpstore: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.Negative;
            }
        }
    }

    /// <summary>
    /// Requests without a reply (SET, APPEND, MULTI_SET, QUEUE_PUSH) cannot fail visibly on their own: a server
    /// rejects them by closing the connection. An empty CHECK after them is a round trip every 2.x server answers,
    /// so a rejection shows up as such instead of a silent success.
    /// </summary>
    public static async Task ConfirmAsync(TcpStoreClient client, CancellationToken cancellationToken)
        => await client.CheckAsync(Array.Empty<byte[]>(), cancellationToken).ConfigureAwait(false);
}
