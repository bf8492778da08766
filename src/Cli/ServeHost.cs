using System.CommandLine;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using TcpStore.Core;
using TcpStore.Etcd;
using TcpStore.Server.Admin;
using TcpStore.Server.Hosting;

namespace TcpStore.Cli;

/// <summary>
/// Runs <c>tcpstore serve</c> as a generic host: configuration from a JSON file, <c>TCPSTORE_</c> environment
/// variables and flags; the server as the hosted service of <c>AddTcpStoreServer</c>; systemd readiness
/// (<c>Type=notify</c>) when systemd started the process; SIGTERM and Ctrl-C stop it through the host (stop
/// accepting, drain replies, close), exit 0.
/// </summary>
internal static class ServeHost
{
    /// <summary>The configuration section holding the server's settings, in a file and as the flags' target.</summary>
    public const string Section = "TcpStore";

    /// <summary>Environment variables with this prefix set the server's settings.</summary>
    public const string EnvironmentPrefix = "TCPSTORE_";

    /// <summary>A setting given as a flag: it wins over the file and the environment, and errors name the flag.</summary>
    public sealed record Override(string Property, string Flag, string Value);

    public static async Task<int> RunAsync(
        FileInfo? configFile, IReadOnlyList<Override> flags, EtcdEngineOptions? etcd, AdminOptions? adminOptions, LogLevel level, InvocationConfiguration console, CancellationToken cancellationToken)
    {
        var error = console.Error;
        IConfigurationRoot configuration;
        try
        {
            configuration = Build(configFile, flags);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException or FormatException or IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"tcpstore serve: --config: cannot use '{configFile}': {OneLine(ex)}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(configuration);
        // A start that fails is reported as one line below; the host would also log it with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        builder.Logging.SetMinimumLevel(level).AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.Services.AddSystemd();
        builder.Services.AddTcpStoreServer(configuration.GetSection(Section));
        builder.Services.Configure<HostOptions>(o =>
        {
            // Let the drain run its course: the host's own shutdown timeout would otherwise cut it at 30 s.
            var drain = configuration.GetSection(Section).GetValue<double?>(nameof(TcpStoreServiceOptions.DrainSeconds)) ?? 5;
            o.ShutdownTimeout = TimeSpan.FromSeconds(Math.Clamp(drain, 0, 3600) + 5);
        });

        EtcdEngine? engine = null;
        using var engineLogs = LoggerFactory.Create(logs => logs.SetMinimumLevel(level).AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        }).Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        if (etcd is not null)
        {
            // Connected before the host starts, so an unreachable cluster is one clear line rather than a server
            // that accepts connections it cannot serve.
            try
            {
                engine = await EtcdEngine.ConnectAsync(etcd, engineLogs.CreateLogger<EtcdEngine>(), cancellationToken).ConfigureAwait(false);
            }
            catch (EtcdUnavailableException ex)
            {
                await error.WriteLineAsync($"tcpstore serve: cannot reach etcd at {string.Join(',', etcd.Endpoints)}: {OneLine(ex)}").ConfigureAwait(false);
                return ExitCodes.ConnectionFailed;
            }

            builder.Services.AddSingleton<IStoreEngine>(engine);
        }

        await using var ownedEngine = engine;
        using var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OptionsValidationException ex)
        {
            await error.WriteLineAsync($"tcpstore serve: {string.Join("; ", ex.Failures.Select(f => Describe(f, flags)))}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (InvalidOperationException ex)
        {
            // The binder's "Failed to convert configuration value 'abc' at 'TcpStore:Port' to type 'System.Int32'."
            // (a file or variable that is not a number): its own message names the key and the value.
            await error.WriteLineAsync($"tcpstore serve: {ex.Message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        catch (SocketException ex)
        {
            var port = configuration.GetSection(Section)[nameof(TcpStoreServiceOptions.Port)] ?? "29500";
            await error.WriteLineAsync($"tcpstore serve: cannot listen on port {port}: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.ConnectionFailed;
        }

        var service = host.Services.GetRequiredService<TcpStoreHostedService>();
        AdminServer? admin = null;
        if (adminOptions is not null)
        {
            try
            {
                admin = await AdminServer.StartAsync(service.Server!, adminOptions, host.Services.GetRequiredService<ILoggerFactory>(), cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                await error.WriteLineAsync($"tcpstore serve: cannot listen on admin port {adminOptions.Port}: {OneLine(ex)}").ConfigureAwait(false);
                await host.StopAsync(CancellationToken.None).ConfigureAwait(false);
                return ExitCodes.ConnectionFailed;
            }

            host.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(ServeHost)).LogInformation("admin listening on {Address}", admin.Address);
        }

        await using var ownedAdmin = admin;
        await console.Output.WriteLineAsync($"listening on {service.LocalEndPoint}").ConfigureAwait(false);
        await console.Output.FlushAsync(CancellationToken.None).ConfigureAwait(false);

        // Returns once SIGTERM, Ctrl-C or the token stopped the host (the hosted service drained and closed).
        await host.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>The file (if any), then the environment, then the flags: later sources win.</summary>
    internal static IConfigurationRoot Build(FileInfo? configFile, IReadOnlyList<Override> flags)
    {
        var builder = new ConfigurationBuilder();
        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                throw new FileNotFoundException("no such file");
            }

            builder.AddJsonFile(configFile.FullName, optional: false, reloadOnChange: false);
        }

        builder.AddInMemoryCollection(FromEnvironment(Environment.GetEnvironmentVariables()));
        builder.AddInMemoryCollection(flags.Select(f => KeyValuePair.Create(Section + ":" + f.Property, (string?)f.Value)));
        return builder.Build();
    }

    /// <summary>
    /// <c>TCPSTORE_MAX_CONNECTIONS=1000</c> becomes <c>TcpStore:MaxConnections</c>-equivalent <c>TcpStore:MAXCONNECTIONS</c>
    /// (keys are case-insensitive; single underscores separate words, double ones sections, as .NET's convention).
    /// </summary>
    internal static Dictionary<string, string?> FromEnvironment(System.Collections.IDictionary variables)
    {
        var result = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (System.Collections.DictionaryEntry variable in variables)
        {
            var name = (string)variable.Key;
            if (name.Length > EnvironmentPrefix.Length && name.StartsWith(EnvironmentPrefix, StringComparison.OrdinalIgnoreCase))
            {
                var parts = name[EnvironmentPrefix.Length..].Split("__").Select(part => part.Replace("_", string.Empty, StringComparison.Ordinal));
                result[Section + ":" + string.Join(':', parts)] = variable.Value as string;
            }
        }

        return result;
    }

    // "Port must be 0-65535 (got 99999)" names the property; say where it was set: the flag, else the configuration key.
    private static string Describe(string failure, IReadOnlyList<Override> flags)
    {
        var property = new string(failure.TakeWhile(char.IsAsciiLetter).ToArray());
        var flag = flags.FirstOrDefault(f => f.Property == property);
        return property.Length == 0 ? failure : (flag?.Flag ?? Section + ":" + property) + failure[property.Length..];
    }

    private static string OneLine(Exception ex)
    {
        var message = ex.InnerException is { } inner && ex is not FileNotFoundException ? $"{ex.Message} {inner.Message}" : ex.Message;
        return message.ReplaceLineEndings(" ");
    }
}
