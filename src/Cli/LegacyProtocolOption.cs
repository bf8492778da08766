using System.CommandLine.Parsing;
using TcpStore.Codec;

namespace TcpStore.Cli;

/// <summary>Parses <c>--legacy-protocol</c>: the PyTorch version whose table pre-2.2 clients speak.</summary>
internal static class LegacyProtocolOption
{
    public static LegacyProtocol Parse(ArgumentResult result)
    {
        var text = result.Tokens.Count == 0 ? "1.13" : result.Tokens[0].Value;
        switch (text)
        {
            case "1.13":
            case "2.0":
                return LegacyProtocol.Torch113;
            case "2.1":
                return LegacyProtocol.Torch21;
            case "off":
                return LegacyProtocol.Off;
            default:
                result.AddError($"--legacy-protocol must be 1.13, 2.0, 2.1 or off, not '{text}'");
                return LegacyProtocol.Torch113;
        }
    }
}
