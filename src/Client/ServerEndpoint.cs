using System.Globalization;

namespace TcpStore.Client;

/// <summary>One server to connect to: a host (name or address literal) and a port.</summary>
internal sealed record ServerEndpoint(string Host, int Port)
{
    /// <summary>As <c>host:port</c>, with brackets around an IPv6 literal, for messages.</summary>
    public string Display { get; } = Host.Contains(':', StringComparison.Ordinal) && !Host.StartsWith('[') ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>
    /// Parses <c>host:port</c>, <c>[v6-address]:port</c>, a bare host or a bare IPv6 literal (which take
    /// <paramref name="defaultPort"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty or the port is not 0-65535.</exception>
    public static ServerEndpoint Parse(string text, int defaultPort)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        text = text.Trim();
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
            {
                throw new ArgumentException($"endpoint '{text}': expected [address]:port");
            }

            host = text[1..close];
            port = close + 1 < text.Length ? text[(close + 2)..] : null;
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            port = text[(colon + 1)..];
        }
        else
        {
            // No colon (a bare host) or several (a bare IPv6 literal).
            host = text;
        }

        if (host.Length == 0)
        {
            throw new ArgumentException($"endpoint '{text}': no host");
        }

        var number = defaultPort;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number > 65535))
        {
            throw new ArgumentException($"endpoint '{text}': the port must be a number 0-65535");
        }

        return new ServerEndpoint(host, number);
    }
}
