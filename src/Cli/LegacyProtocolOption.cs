using TcpStore.Codec;

namespace TcpStore.Cli;

/// <summary>Maps <c>--legacy-protocol</c> (the PyTorch version whose table pre-2.2 clients speak) to the option value.</summary>
internal static class LegacyProtocolOption
{
    /// <summary>The values the option accepts (it rejects anything else before this runs).</summary>
    public static LegacyProtocol FromText(string? text) => text switch
    {
        "2.1" => LegacyProtocol.Torch21,
        "off" => LegacyProtocol.Off,
        _ => LegacyProtocol.Torch113, // "1.13", "2.0" (same table) and the default
    };
}
