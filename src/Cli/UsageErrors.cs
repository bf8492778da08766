using System.CommandLine;
using System.CommandLine.Parsing;

namespace TcpStore.Cli;

/// <summary>Turns the parser's errors into the one line a usage error prints.</summary>
internal static class UsageErrors
{
    /// <summary>
    /// The first error (the parser often reports one mistake several times, for example once per missing argument),
    /// in the command's words, with where to read more.
    /// </summary>
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var path = command is RootCommand ? "tcpstore" : $"tcpstore {command.Name}";
        var error = parse.Errors[0];
        var message = error.SymbolResult switch
        {
            // A missing argument: name every one the command still lacks.
            CommandResult result when Missing(result) is { Length: > 0 } missing
                => $"{path}: missing {string.Join(" and ", missing)} (usage: {Usage(result.Command, path)})",
            ArgumentResult { Argument: var argument } when error.Message.StartsWith("Required argument missing", StringComparison.Ordinal)
                => $"{path}: missing {argument.Name} (usage: {Usage(command, path)})",
            _ when parse.UnmatchedTokens.Count > 0 && command is RootCommand
                => $"tcpstore: unknown command '{parse.UnmatchedTokens[0]}' (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))})",
            _ when parse.UnmatchedTokens.Count > 0 && parse.UnmatchedTokens[0].StartsWith('-')
                => $"{path}: unknown option '{parse.UnmatchedTokens[0]}' (options: {string.Join(", ", command.Options.Where(o => !o.Hidden).Select(o => o.Name))})",
            _ when parse.UnmatchedTokens.Count > 0
                => $"{path}: unexpected argument '{parse.UnmatchedTokens[0]}' (usage: {Usage(command, path)})",
            _ when command is RootCommand
                => $"tcpstore: no command given (commands: {string.Join(", ", command.Subcommands.Select(c => c.Name))})",
            _ => $"{path}: {error.Message.TrimEnd('.')}",
        };
        return message + (command is RootCommand ? "; see tcpstore --help" : $"; see {path} --help");
    }

    private static string[] Missing(CommandResult result)
    {
        var given = result.Children.OfType<ArgumentResult>().Where(a => a.Tokens.Count > 0).Select(a => a.Argument).ToHashSet();
        return result.Command.Arguments.Where(a => a.Arity.MinimumNumberOfValues > 0 && !given.Contains(a)).Select(a => a.Name).ToArray();
    }

    private static string Usage(Command command, string path)
        => string.Join(' ', new[] { path }.Concat(command.Arguments.Select(a => a.Arity.MaximumNumberOfValues > 1 ? a.Name + "..." : a.Name)).Append("[options]"));
}
