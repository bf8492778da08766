using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace TcpStore.Cli;

/// <summary>
/// Parsers for option and argument values that say, in one line, which option got what and what it allows (the
/// parser's own messages name .NET types such as System.Int32).
/// </summary>
internal static class ValueParsers
{
    /// <summary>The text of the value being parsed (the last one, for an option given twice).</summary>
    public static string Text(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;

    /// <summary>The name to report for the value: the option (<c>--port</c>) or the argument (<c>N</c>).</summary>
    public static string Name(ArgumentResult result) => result.Parent is OptionResult option ? option.Option.Name : result.Argument.Name;

    /// <summary>An integer from <paramref name="min"/> to <paramref name="max"/>; <paramref name="allowed"/> says so in words.</summary>
    public static Func<ArgumentResult, int> Int32(int min, int max, string allowed) => result =>
    {
        var text = Text(result);
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        result.AddError($"{Name(result)}: '{text}' is not allowed: {allowed}");
        return default;
    };

    /// <summary>A 64-bit integer from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public static Func<ArgumentResult, long> Int64(long min, long max, string allowed) => result =>
    {
        var text = Text(result);
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        result.AddError($"{Name(result)}: '{text}' is not allowed: {allowed}");
        return default;
    };

    /// <summary>A number of seconds, 0 or more (fractions allowed), short of what a TimeSpan can hold.</summary>
    public static double Seconds(ArgumentResult result)
    {
        var text = Text(result);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            && double.IsFinite(value) && value >= 0 && value <= TimeSpan.MaxValue.TotalSeconds / 2)
        {
            return value;
        }

        result.AddError($"{Name(result)}: '{text}' is not allowed: a number of seconds, 0 or more (such as 30 or 0.5)");
        return default;
    }

    /// <summary>One of an enum's names, in any case.</summary>
    public static Func<ArgumentResult, T> Enum<T>()
        where T : struct, Enum => result =>
    {
        var text = Text(result);
        if (System.Enum.TryParse<T>(text, ignoreCase: true, out var value) && System.Enum.IsDefined(value) && !char.IsAsciiDigit(text.FirstOrDefault()))
        {
            return value;
        }

        result.AddError($"{Name(result)}: '{text}' is not allowed: one of {string.Join(", ", System.Enum.GetNames<T>())}");
        return default;
    };

    /// <summary>
    /// Refuses text the shell passed as bytes that are not UTF-8: .NET turns such bytes into U+FFFD, and storing
    /// that silently would store something the user never typed.
    /// </summary>
    public static void RequireUtf8(Argument argument)
        => argument.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                if (token.Value.Contains('\uFFFD', StringComparison.Ordinal))
                {
                    result.AddError($"{result.Argument.Name}: not valid UTF-8 (the shell passed bytes that are not UTF-8; give binary values in hex with --hex, or with '-' or --file)");
                    return;
                }
            }
        });
}
