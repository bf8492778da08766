using System.CommandLine;
using System.Net;
using TcpStore.Server.Admin;

namespace TcpStore.Cli;

/// <summary>The <c>serve</c> options of the admin HTTP listener (off unless <c>--admin-port</c> is given).</summary>
internal sealed class AdminServeOptions
{
    private readonly Option<int?> _port = new("--admin-port") { Description = "Start the admin HTTP listener (live page, JSON, /metrics, /healthz) on this port; off when absent." };
    private readonly Option<string> _host = new("--admin-host") { Description = "Address of the admin listener.", DefaultValueFactory = _ => "127.0.0.1" };
    private readonly Option<bool> _allowRemote = new("--admin-allow-remote") { Description = "Allow --admin-host to be a non-loopback address (the page shows peers and key names)." };
    private readonly Option<bool> _showValues = new("--admin-show-values") { Description = "Show key values on the admin endpoints (hidden by default)." };

    public void AddTo(Command command)
    {
        command.Options.Add(_port);
        command.Options.Add(_host);
        command.Options.Add(_allowRemote);
        command.Options.Add(_showValues);

        // Checked while parsing, so a bad combination is a usage error (one line, exit 4) before anything starts.
        command.Validators.Add(result =>
        {
            try
            {
                _ = Read(result.GetValue(_port), result.GetValue(_host), result.GetValue(_allowRemote), result.GetValue(_showValues));
            }
            catch (ArgumentException ex)
            {
                result.AddError(ex.Message);
            }
        });
    }

    /// <summary>The admin settings, or null when no admin port was given.</summary>
    public AdminOptions? Read(ParseResult parse) =>
        Read(parse.GetValue(_port), parse.GetValue(_host), parse.GetValue(_allowRemote), parse.GetValue(_showValues));

    private static AdminOptions? Read(int? adminPort, string? hostOption, bool allowRemote, bool showValues)
    {
        if (adminPort is not int port)
        {
            return null;
        }

        var hostText = hostOption ?? "127.0.0.1";
        if (!IPAddress.TryParse(hostText.Trim('[', ']'), out var host))
        {
            throw new ArgumentException($"--admin-host must be an IP address, got '{hostText}'");
        }

        var options = new AdminOptions { Host = host, Port = port, AllowRemote = allowRemote, ShowValues = showValues };
        options.Validate();
        return options;
    }
}
