using System.CommandLine;

namespace TcpStore.Cli;

/// <summary>
/// The whole command tree and how it is run: a parse error is one line on stderr and exit 4 (never help text or a
/// stack trace), and no action lets an exception escape. Program and the in-process tests both run through here.
/// </summary>
public static class CliApp
{
    /// <summary>The root command with <c>serve</c> and every client command; <paramref name="input"/> opens what <c>-</c> reads.</summary>
    internal static RootCommand CreateRoot(Func<Stream>? input = null)
    {
        var root = new RootCommand("tcpstore: a PyTorch c10d TCPStore server (serve) and client commands.")
        {
            ServeCommand.Create(),
        };
        ClientCommands.AddTo(root, input ?? Console.OpenStandardInput);
        AdminCommands.AddTo(root);
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>, writing to <paramref name="output"/> and <paramref name="error"/> (the console when null).</summary>
    public static async Task<int> RunAsync(
        string[] args, TextWriter? output = null, TextWriter? error = null, Func<Stream>? input = null, CancellationToken cancellationToken = default)
    {
        var root = CreateRoot(input);
        var parse = root.Parse(args);
        var configuration = new InvocationConfiguration
        {
            Output = output ?? Console.Out,
            Error = error ?? Console.Error,
            // `serve` stops through the generic host's signal handling (and drains); client commands end on
            // Ctrl-C the ordinary way. The parser's own handler would race both.
            ProcessTerminationTimeout = null,
        };
        if (parse.Errors.Count > 0 && parse.Action is System.CommandLine.Invocation.ParseErrorAction)
        {
            await configuration.Error.WriteLineAsync(UsageErrors.Describe(parse)).ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Actions report what they expect themselves; anything else is still one line, not a stack trace.
            await configuration.Error.WriteLineAsync($"tcpstore: internal error: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.ConnectionFailed;
        }
    }
}
