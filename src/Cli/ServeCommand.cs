using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TcpStore.Etcd;
using TcpStore.Server;
using TcpStore.Server.Hosting;

namespace TcpStore.Cli;

/// <summary>
/// The <c>tcpstore serve</c> command: runs the server in the foreground (under the generic host, see
/// <see cref="ServeHost"/>) until SIGTERM or Ctrl-C. Every setting comes from <c>--config FILE</c>, then
/// <c>TCPSTORE_</c> environment variables, then the flags, the later winning.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var defaults = new TcpStoreServiceOptions();
        var flags = new ServeFlag[]
        {
            new("--host", nameof(TcpStoreServiceOptions.Host), "Address or host name to listen on (default: dual-stack [::], falling back to 0.0.0.0)."),
            new("--port", nameof(TcpStoreServiceOptions.Port), $"TCP port; 0 picks a free one (default {defaults.Port}).", "-p"),
            new("--listen-fd", nameof(TcpStoreServiceOptions.ListenFd), "Adopt an already-bound socket file descriptor instead of binding."),
            new("--max-key-bytes", nameof(TcpStoreServiceOptions.MaxKeyBytes), $"Longest key or queue name (default {defaults.MaxKeyBytes})."),
            new("--max-value-bytes", nameof(TcpStoreServiceOptions.MaxValueBytes), $"Longest value (default {defaults.MaxValueBytes})."),
            new("--max-keys-per-request", nameof(TcpStoreServiceOptions.MaxKeysPerRequest), $"Most keys in one CHECK/WAIT/MULTI_GET/MULTI_SET (default {defaults.MaxKeysPerRequest})."),
            new("--max-connections", nameof(TcpStoreServiceOptions.MaxConnections), $"Most open connections; more are closed at accept (default: what the open-file limit allows, less the descriptors already open and {TcpStoreServerOptions.ReservedDescriptors} more)."),
            new("--max-buffered-bytes", nameof(TcpStoreServiceOptions.MaxBufferedBytes), $"Most bytes one connection may hold, unread input + unsent output (default {defaults.MaxBufferedBytes})."),
            new("--output-high-water-bytes", nameof(TcpStoreServiceOptions.OutputHighWaterBytes), $"Stop reading a connection while this many bytes of its replies are unsent; resume below half, capped by --max-buffered-bytes (default {defaults.OutputHighWaterBytes})."),
            new("--send-timeout-seconds", nameof(TcpStoreServiceOptions.SendTimeoutSeconds), $"Close a connection whose replies stay unsent with no progress this long; 0 = never (default {defaults.SendTimeoutSeconds})."),
            new("--warnings-per-second", nameof(TcpStoreServiceOptions.WarningsPerSecond), $"Most close warnings logged per second for each reason; the rest are counted and summarized (default {defaults.WarningsPerSecond})."),
            new("--wait-report-seconds", nameof(TcpStoreServiceOptions.WaitReportSeconds), $"Log the keys that connections wait for every N seconds while any do; 0 = never (default {defaults.WaitReportSeconds})."),
            new("--transport", nameof(TcpStoreServiceOptions.Transport), "I/O layer: Epoll (our own epoll loops, see --loops; the default on Linux x86-64) or Sockets (.NET's socket engine)."),
            new("--loops", nameof(TcpStoreServiceOptions.Loops), "Epoll transport: event loop threads; 0 = one per two processors this process may use, at least one (default 0)."),
            new("--drain-seconds", nameof(TcpStoreServiceOptions.DrainSeconds), $"On SIGTERM, how long replies already produced may take to finish sending before connections close (default {defaults.DrainSeconds})."),
            new("--legacy-protocol", nameof(TcpStoreServiceOptions.LegacyProtocol), $"Code table for clients older than PyTorch 2.2 (no VALIDATE): 1.13 (also 2.0), 2.1, or off (refuse them); see docs/compatibility.md (default {defaults.LegacyProtocol}).") { HelpName = "1.13|2.0|2.1|off" },
        };
        var config = new Option<FileInfo>("--config", "-c")
        {
            Description = "JSON settings file: {\"TcpStore\": {\"Port\": 29500, \"MaxConnections\": 1000, ...}} (names as the flags, in PascalCase). TCPSTORE_ environment variables (TCPSTORE_PORT, TCPSTORE_MAX_CONNECTIONS, ...) override it, and flags override both.",
        };
        // The engine is chosen by flags only: it is this executable's choice of implementation, not a setting of the
        // hosted server (an application embedding the server passes its own IStoreEngine).
        var engine = new Option<StoreEngineKind>("--engine")
        {
            Description = "Where keys live: Memory (this process, the default) or Etcd (an etcd cluster; any number of servers can front it, see docs/ha.md).",
            DefaultValueFactory = _ => StoreEngineKind.Memory,
            CustomParser = ValueParsers.Enum<StoreEngineKind>(),
        };
        var etcdEndpoints = new Option<string?>("--etcd-endpoints") { Description = "Etcd engine: the cluster's client URLs, comma-separated (http://host:2379,...).", HelpName = "urls" };
        var etcdPrefix = new Option<string>("--etcd-prefix")
        {
            Description = $"Etcd engine: key prefix of this store (one per job; every server of the job uses the same; default {new EtcdEngineOptions().Prefix}).",
            DefaultValueFactory = _ => new EtcdEngineOptions().Prefix,
            HelpName = "prefix",
        };
        var etcdCa = new Option<FileInfo?>("--etcd-cacert") { Description = "Etcd engine: PEM file of the authority that signed the members' certificates (implies TLS).", HelpName = "file" };
        var etcdCert = new Option<FileInfo?>("--etcd-cert") { Description = "Etcd engine: PEM client certificate, for clusters that use --client-cert-auth (with --etcd-key).", HelpName = "file" };
        var etcdKey = new Option<FileInfo?>("--etcd-key") { Description = "Etcd engine: PEM private key of --etcd-cert.", HelpName = "file" };
        var etcdMaxTxnOps = new Option<int>("--etcd-max-txn-ops")
        {
            Description = $"Etcd engine: most operations per etcd transaction, at most the cluster's --max-txn-ops (default {new EtcdEngineOptions().MaxOperationsPerTransaction}, etcd's default); MULTI_SETs up to it are atomic, larger ones are applied in order in transactions of this size.",
            DefaultValueFactory = _ => new EtcdEngineOptions().MaxOperationsPerTransaction,
            CustomParser = ValueParsers.Int32(1, 1 << 20, "a whole number, 1 or more"),
            HelpName = "n",
        };
        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Minimum level logged to stderr.",
            DefaultValueFactory = _ => LogLevel.Information,
            CustomParser = ValueParsers.Enum<LogLevel>(),
        };

        var command = new Command("serve", "Run a TCPStore server (in-memory, or over an etcd cluster with --engine Etcd) that PyTorch clients connect to.");
        foreach (var flag in flags)
        {
            command.Options.Add(flag.Option);
        }

        command.Options.Add(config);
        command.Options.Add(engine);
        command.Options.Add(etcdEndpoints);
        command.Options.Add(etcdPrefix);
        command.Options.Add(etcdCa);
        command.Options.Add(etcdCert);
        command.Options.Add(etcdKey);
        command.Options.Add(etcdMaxTxnOps);
        command.Options.Add(logLevel);
        var admin = new AdminServeOptions();
        admin.AddTo(command);
        command.Validators.Add(result =>
        {
            if (result.GetValue(engine) == StoreEngineKind.Etcd)
            {
                var endpoints = result.GetValue(etcdEndpoints);
                if (string.IsNullOrWhiteSpace(endpoints))
                {
                    result.AddError("--engine Etcd needs --etcd-endpoints URL[,URL...]");
                    return;
                }

                try
                {
                    _ = EtcdEngineOptions.ParseEndpoints(endpoints);
                }
                catch (ArgumentException ex)
                {
                    result.AddError($"--etcd-endpoints: {ex.Message}");
                }

                if ((result.GetValue(etcdCert) is null) != (result.GetValue(etcdKey) is null))
                {
                    result.AddError("--etcd-cert and --etcd-key go together");
                }

                foreach (var (option, file) in new[] { (etcdCa, result.GetValue(etcdCa)), (etcdCert, result.GetValue(etcdCert)), (etcdKey, result.GetValue(etcdKey)) })
                {
                    if (file is { Exists: false })
                    {
                        result.AddError($"{option.Name}: no file '{file}'");
                    }
                }
            }
        });
        command.SetAction((parse, cancellationToken) =>
        {
            var overrides = flags
                .Where(flag => parse.GetResult(flag.Option) is not null)
                .Select(flag => new ServeHost.Override(flag.Property, flag.Option.Name, parse.GetValue(flag.Option)!))
                .ToArray();
            EtcdEngineOptions? etcd = null;
            if (parse.GetValue(engine) == StoreEngineKind.Etcd)
            {
                etcd = new EtcdEngineOptions
                {
                    Prefix = parse.GetValue(etcdPrefix)!,
                    TrustedCaFile = parse.GetValue(etcdCa)?.FullName,
                    ClientCertificateFile = parse.GetValue(etcdCert)?.FullName,
                    ClientKeyFile = parse.GetValue(etcdKey)?.FullName,
                    MaxOperationsPerTransaction = parse.GetValue(etcdMaxTxnOps),
                };
                foreach (var endpoint in EtcdEngineOptions.ParseEndpoints(parse.GetValue(etcdEndpoints)!))
                {
                    etcd.Endpoints.Add(endpoint);
                }
            }

            return ServeHost.RunAsync(parse.GetValue(config), overrides, etcd, admin.Read(parse), parse.GetValue(logLevel), parse.InvocationConfiguration, cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// A flag that sets one <see cref="TcpStoreServiceOptions"/> property, checked as it is parsed so that the error
    /// names the flag; its text then goes into configuration above the file and the environment.
    /// </summary>
    private sealed class ServeFlag
    {
        public ServeFlag(string name, string property, string description, params string[] aliases)
        {
            Property = property;
            var type = typeof(TcpStoreServiceOptions).GetProperty(property)!.PropertyType;
            type = Nullable.GetUnderlyingType(type) ?? type;
            Option = new Option<string>(name, aliases)
            {
                Description = description,
                HelpName = type == typeof(string) ? "host" : type == typeof(double) ? "seconds" : type.IsEnum ? string.Join('|', Enum.GetNames(type)) : "n",
            };
            Option.Validators.Add(result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                if (Parse(type, text) is not { } value)
                {
                    result.AddError($"{name}: '{text}' is not allowed: {Expected(type)}");
                }
                else if (TcpStoreServiceOptions.Check(property, value, name) is { } error)
                {
                    result.AddError($"{error} (got {text})");
                }
            });
        }

        public Option<string> Option { get; }

        /// <summary>The value's placeholder in help, where the type's own name says too little.</summary>
        public string? HelpName
        {
            get => Option.HelpName;
            init => Option.HelpName = value;
        }

        public string Property { get; }

        private static object? Parse(Type type, string text)
        {
            var invariant = CultureInfo.InvariantCulture;
            return type switch
            {
                _ when type == typeof(string) => text,
                _ when type == typeof(int) => int.TryParse(text, NumberStyles.AllowLeadingSign, invariant, out var i) ? i : null,
                _ when type == typeof(long) => long.TryParse(text, NumberStyles.AllowLeadingSign, invariant, out var l) ? l : null,
                _ when type == typeof(double) => double.TryParse(text, NumberStyles.Float, invariant, out var d) && double.IsFinite(d) ? d : null,
                _ when type.IsEnum => Enum.TryParse(type, text, ignoreCase: true, out var e) && Enum.IsDefined(type, e!) && !char.IsAsciiDigit(text.FirstOrDefault()) ? e : null,
                _ => null,
            };
        }

        private static string Expected(Type type) => type switch
        {
            _ when type == typeof(double) => "a number",
            _ when type.IsEnum => "one of " + string.Join(", ", Enum.GetNames(type)),
            _ => "a whole number",
        };
    }
}

/// <summary>Where <c>tcpstore serve</c> keeps keys.</summary>
internal enum StoreEngineKind
{
    /// <summary>In this process's memory (the default).</summary>
    Memory,

    /// <summary>In an etcd cluster (<c>--etcd-endpoints</c>).</summary>
    Etcd,
}
