using System.ComponentModel.DataAnnotations;
using System.Net;
using TcpStore.Codec;

namespace TcpStore.Server.Hosting;

/// <summary>
/// The server's settings as configuration holds them (appsettings, <c>TCPSTORE_</c> environment variables, command
/// line): plain values that bind from strings, checked by their <see cref="RangeAttribute"/>s and by
/// <see cref="TcpStoreServerOptions.Validate"/> when the host starts. Property names are the <c>tcpstore serve</c>
/// flags in PascalCase (<c>--max-connections</c> is <c>MaxConnections</c>).
/// </summary>
public sealed class TcpStoreServiceOptions
{
    private const long OneGiB = 1L << 30;

    /// <summary>Address or host name to listen on; empty listens dual-stack on <c>[::]</c> (falling back to <c>0.0.0.0</c>).</summary>
    public string? Host { get; set; }

    /// <summary>TCP port; 0 picks a free one.</summary>
    [Range(0, 65535, ErrorMessage = "{0} must be 0-65535")]
    public int Port { get; set; } = Protocol.DefaultPort;

    /// <summary>An already-bound socket file descriptor to adopt instead of binding.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "{0} must be a file descriptor number (0 or more)")]
    public int? ListenFd { get; set; }

    /// <summary>Longest key or queue name in bytes.</summary>
    [Range(1, OneGiB, ErrorMessage = "{0} must be 1 to 1073741824 (1 GiB)")]
    public long MaxKeyBytes { get; set; } = CodecLimits.Default.MaxKeyLength;

    /// <summary>Longest value in bytes.</summary>
    [Range(0, OneGiB, ErrorMessage = "{0} must be 0 to 1073741824 (1 GiB)")]
    public long MaxValueBytes { get; set; } = CodecLimits.Default.MaxValueLength;

    /// <summary>Most keys in one CHECK, WAIT, MULTI_GET or MULTI_SET.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "{0} must be 0 to 2147483647")]
    public long MaxKeysPerRequest { get; set; } = CodecLimits.Default.MaxKeysPerRequest;

    /// <summary>Most open connections; unset takes what the open-file limit allows.</summary>
    [Range(1, int.MaxValue, ErrorMessage = "{0} must be 1 or more")]
    public int? MaxConnections { get; set; }

    /// <summary>Most bytes one connection may hold (unread input plus unsent output).</summary>
    [Range(4096, 2 * OneGiB, ErrorMessage = "{0} must be 4096 to 2147483648 (4 KiB to 2 GiB)")]
    public long MaxBufferedBytes { get; set; } = new TcpStoreServerOptions().MaxBufferedBytesPerConnection;

    /// <summary>Unsent reply bytes at which a connection stops being read (it resumes below half); capped by <see cref="MaxBufferedBytes"/>.</summary>
    [Range(4096, 2 * OneGiB, ErrorMessage = "{0} must be 4096 to 2147483648 (4 KiB to 2 GiB)")]
    public long OutputHighWaterBytes { get; set; } = new TcpStoreServerOptions().OutputHighWaterBytes;

    /// <summary>Seconds a connection's replies may stay unsent with no progress before it is closed; 0 never closes.</summary>
    [Range(0, 86400, ErrorMessage = "{0} must be 0 (never) to 86400 seconds")]
    public double SendTimeoutSeconds { get; set; } = new TcpStoreServerOptions().SendTimeout.TotalSeconds;

    /// <summary>Most close warnings logged per second for each reason.</summary>
    [Range(0, int.MaxValue, ErrorMessage = "{0} must be 0 or more")]
    public int WarningsPerSecond { get; set; } = new TcpStoreServerOptions().WarningsPerSecond;

    /// <summary>Seconds between reports of the keys connections wait for; 0 never reports.</summary>
    [Range(0, 1e9, ErrorMessage = "{0} must be 0 to 1000000000 seconds")]
    public double WaitReportSeconds { get; set; } = 30;

    /// <summary>I/O layer: <c>Epoll</c> (our own epoll loops, Linux x86-64) or <c>Sockets</c> (.NET's socket engine).</summary>
    public ServerTransport Transport { get; set; } = ServerTransport.Epoll;

    /// <summary>Epoll transport: event loop threads; 0 = one per two processors the process may use.</summary>
    [Range(0, 1024, ErrorMessage = "{0} must be 0 (automatic) to 1024")]
    public int Loops { get; set; }

    /// <summary>Seconds a stopping server lets replies already produced finish sending before it closes connections.</summary>
    [Range(0, 3600, ErrorMessage = "{0} must be 0 to 3600 seconds")]
    public double DrainSeconds { get; set; } = 5;

    /// <summary>
    /// Code table for clients older than PyTorch 2.2: <c>1.13</c> (also 2.0's), <c>2.1</c>, or <c>off</c> to refuse
    /// them (see docs/compatibility.md).
    /// </summary>
    [RegularExpression(@"^(1\.13|2\.0|2\.1|off)$", ErrorMessage = "{0} must be 1.13, 2.0, 2.1 or off")]
    public string LegacyProtocol { get; set; } = "1.13";

    /// <summary>The server options these settings describe, listening on <paramref name="address"/> (the resolved <see cref="Host"/>).</summary>
    public TcpStoreServerOptions ToServerOptions(IPAddress? address) => new()
    {
        Host = address,
        Port = Port,
        ListenFd = ListenFd,
        MaxKeyLength = MaxKeyBytes,
        MaxValueLength = MaxValueBytes,
        MaxKeysPerRequest = MaxKeysPerRequest,
        MaxConnections = MaxConnections,
        MaxBufferedBytesPerConnection = MaxBufferedBytes,
        OutputHighWaterBytes = OutputHighWaterBytes,
        SendTimeout = TimeSpan.FromSeconds(SendTimeoutSeconds),
        WarningsPerSecond = WarningsPerSecond,
        WaitReportInterval = TimeSpan.FromSeconds(WaitReportSeconds),
        Transport = Transport,
        EventLoops = Loops,
        DrainTimeout = TimeSpan.FromSeconds(DrainSeconds),
        LegacyProtocol = LegacyProtocol switch
        {
            "2.1" => Codec.LegacyProtocol.Torch21,
            "off" => Codec.LegacyProtocol.Off,
            _ => Codec.LegacyProtocol.Torch113, // 1.13 and 2.0 share a table
        },
    };

    /// <summary>
    /// Checks one setting against its range before it is applied (a command-line flag, say), so the error can name
    /// the flag: null when <paramref name="value"/> is allowed for <paramref name="property"/>, else what is allowed.
    /// </summary>
    public static string? Check(string property, object? value, string displayName)
    {
        var context = new ValidationContext(new TcpStoreServiceOptions()) { MemberName = property, DisplayName = displayName };
        var results = new List<ValidationResult>();
        return Validator.TryValidateProperty(value, context, results) ? null : results[0].ErrorMessage;
    }
}
