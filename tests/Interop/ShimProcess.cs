using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TcpStore.Tests.Interop;

/// <summary>
/// Locates the native <c>tcpstore-shim</c> executable (see <c>native/shim/README.md</c>), which
/// drives PyTorch's real c10d TCPStore from <c>libtorch_cpu.so</c>.
/// </summary>
public static class ShimBinary
{
    /// <summary>Environment variable that, when set, overrides the shim's location.</summary>
    public const string EnvironmentVariable = "TCPSTORE_SHIM";

    /// <summary>Path of the shim relative to the repository root.</summary>
    public const string RelativePath = "native/shim/build/tcpstore-shim";

    /// <summary>
    /// Gets a value indicating whether the shim executable exists, so that interop tests can be
    /// skipped on machines where it was not built.
    /// </summary>
    public static bool IsAvailable => TryLocate() is { } path && File.Exists(path);

    /// <summary>
    /// Returns the candidate path of the shim: <see cref="EnvironmentVariable"/> if set, otherwise
    /// <see cref="RelativePath"/> under the first ancestor of <see cref="AppContext.BaseDirectory"/>
    /// that contains <c>TcpStore.sln</c> or <c>global.json</c>. Returns <see langword="null"/> when
    /// no repository root can be found. The file is not required to exist.
    /// </summary>
    /// <returns>The candidate path, or <see langword="null"/>.</returns>
    public static string? TryLocate()
    {
        string? fromEnv = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return fromEnv;
        }

        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln"))
                || File.Exists(Path.Combine(dir.FullName, "global.json")))
            {
                return Path.Combine(dir.FullName, RelativePath);
            }
        }

        return null;
    }

    /// <summary>Returns the path of the shim executable.</summary>
    /// <returns>The full path of an existing file.</returns>
    /// <exception cref="FileNotFoundException">The shim has not been built or cannot be found.</exception>
    public static string Locate()
    {
        string? path = TryLocate();
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"tcpstore-shim not found (looked at '{path ?? "<no repository root>"}'). "
                + $"Build it with native/shim/build.sh or set {EnvironmentVariable}.",
                path);
        }

        return path;
    }
}

/// <summary>An <c>err</c> reply from the shim: the real PyTorch client raised an exception.</summary>
public sealed class RealClientException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RealClientException"/> class.</summary>
    public RealClientException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RealClientException"/> class.</summary>
    /// <param name="message">
    /// The shim's one-line message, usually <c>"&lt;C++ type&gt;: &lt;what()&gt;"</c>, for example
    /// <c>"c10::DistStoreError: wait timeout after 200ms, keys: /k"</c>.
    /// </param>
    public RealClientException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="RealClientException"/> class.</summary>
    /// <param name="message">The error message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public RealClientException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// Gets the C++ exception type reported by the shim (for example <c>c10::DistStoreError</c>,
    /// <c>c10::DistNetworkError</c>, <c>c10::DistQueueEmptyError</c>,
    /// <c>c10::NotImplementedError</c>), <c>"bad input"</c> for malformed commands, or
    /// <see langword="null"/> if the message has no such prefix.
    /// </summary>
    public string? ErrorType
    {
        get
        {
            int colon = Message.IndexOf(": ", StringComparison.Ordinal);
            if (colon <= 0)
            {
                return null;
            }

            string prefix = Message[..colon];
            return prefix == "bad input" || !prefix.Contains(' ', StringComparison.Ordinal) ? prefix : null;
        }
    }
}

/// <summary>
/// A running <c>tcpstore-shim</c> child process with line-oriented stdin/stdout and captured stderr.
/// </summary>
internal sealed class ShimChild : IAsyncDisposable
{
    private const int MaxStderrChars = 256 * 1024;

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly Lock _stderrLock = new();
    private int _disposed;

    private ShimChild(Process process)
    {
        _process = process;
    }

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    public string StandardError
    {
        get
        {
            lock (_stderrLock)
            {
                return _stderr.ToString();
            }
        }
    }

    public static ShimChild Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(ShimBinary.Locate())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
            StandardInputEncoding = new UTF8Encoding(false),
        };
        foreach (string arg in arguments)
        {
            psi.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            foreach (KeyValuePair<string, string> pair in environment)
            {
                psi.Environment[pair.Key] = pair.Value;
            }
        }

        var process = new Process { StartInfo = psi };
        var child = new ShimChild(process);
        process.ErrorDataReceived += child.OnStderr;
        if (!process.Start())
        {
            process.Dispose();
            throw new InvalidOperationException("failed to start tcpstore-shim");
        }

        process.StandardInput.AutoFlush = true;
        process.StandardInput.NewLine = "\n";
        process.BeginErrorReadLine();
        return child;
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteAsync(line + "\n").ConfigureAwait(false);
        await _process.StandardInput.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Reads one stdout line; kills the process on timeout (its state is then unknown).</summary>
    public async Task<string> ReadLineAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Kill();
            throw new TimeoutException(
                $"tcpstore-shim did not answer within {timeout.TotalSeconds:0.#} s; process killed. stderr tail: {StderrTail()}");
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw;
        }

        if (line is null)
        {
            throw new InvalidOperationException(
                $"tcpstore-shim exited unexpectedly (stdout closed). stderr tail: {StderrTail()}");
        }

        return line;
    }

    public string StderrTail()
    {
        string all = StandardError;
        return all.Length <= 2000 ? all : all[^2000..];
    }

    /// <summary>Closes stdin (the shim's exit signal), waits briefly, then kills if still running.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            if (!HasExited)
            {
                try
                {
                    _process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The process is already gone.
                }

                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Kill();
                    using var killWait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    try
                    {
                        await _process.WaitForExitAsync(killWait.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Give up waiting; the OS will reap it.
                    }
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Already exiting.
        }
    }

    private void OnStderr(object sender, DataReceivedEventArgs e)
    {
        if (e.Data is null)
        {
            return;
        }

        lock (_stderrLock)
        {
            _stderr.Append(e.Data).Append('\n');
            if (_stderr.Length > MaxStderrChars)
            {
                _stderr.Remove(0, _stderr.Length - (MaxStderrChars / 2));
            }
        }
    }
}

/// <summary>
/// A real PyTorch 2.10 TCPStore server (legacy or libuv backend) hosted by <c>tcpstore-shim server</c>
/// on an ephemeral port. Disposing stops the process.
/// </summary>
public sealed class RealPyTorchServer : IAsyncDisposable
{
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(60);
    private const string ListeningPrefix = "listening on ";

    private readonly ShimChild _child;

    private RealPyTorchServer(ShimChild child, int port, bool useLibUv)
    {
        _child = child;
        Port = port;
        UseLibUv = useLibUv;
    }

    /// <summary>Gets the address clients should connect to (always <c>127.0.0.1</c>).</summary>
    public string Host => "127.0.0.1";

    /// <summary>Gets the TCP port the server listens on (it listens on all interfaces, dual-stack).</summary>
    public int Port { get; }

    /// <summary>Gets a value indicating whether the libuv backend (rather than the legacy one) is used.</summary>
    public bool UseLibUv { get; }

    /// <summary>Gets a value indicating whether the server process has exited (for example after a crash).</summary>
    public bool HasExited => _child.HasExited;

    /// <summary>Gets the server's captured stderr (PyTorch's log output), truncated to the most recent part.</summary>
    public string StandardError => _child.StandardError;

    /// <summary>Starts a real PyTorch server on an ephemeral port and waits until it is listening.</summary>
    /// <param name="useLibUv"><see langword="true"/> for the libuv backend, <see langword="false"/> for the legacy one.</param>
    /// <param name="port">The port to bind, or 0 for an ephemeral port.</param>
    /// <param name="capResolverTimeout">
    /// When <see langword="true"/> (the default), the server process runs with
    /// <c>RES_OPTIONS="timeout:1 attempts:1"</c>. PyTorch's server does a reverse DNS lookup
    /// (<c>getnameinfo</c>) on its only I/O thread for every accepted connection; where the DNS server
    /// occasionally drops a reply (as on the CI sandbox) that freezes the whole server for the glibc
    /// resolver timeout (5 s by default). The cap bounds such freezes to about 1 s.
    /// </param>
    /// <param name="cancellationToken">Cancels the startup (the process is then killed).</param>
    /// <returns>The running server.</returns>
    /// <exception cref="FileNotFoundException">The shim has not been built.</exception>
    /// <exception cref="InvalidOperationException">The server failed to start.</exception>
    public static async Task<RealPyTorchServer> StartAsync(
        bool useLibUv,
        int port = 0,
        bool capResolverTimeout = true,
        CancellationToken cancellationToken = default)
    {
        Dictionary<string, string>? environment = capResolverTimeout
            ? new Dictionary<string, string>(StringComparer.Ordinal) { ["RES_OPTIONS"] = "timeout:1 attempts:1" }
            : null;
        ShimChild child = ShimChild.Start(
        [
            "server",
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--libuv", useLibUv ? "1" : "0",
            "--host", "127.0.0.1",
        ],
            environment);
        try
        {
            string line = await child.ReadLineAsync(StartupTimeout, cancellationToken).ConfigureAwait(false);
            if (!line.StartsWith(ListeningPrefix, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"tcpstore-shim server failed: {line} (stderr: {child.StderrTail()})");
            }

            string endpoint = line[ListeningPrefix.Length..];
            int actualPort = int.Parse(endpoint[(endpoint.LastIndexOf(':') + 1)..], NumberStyles.None, CultureInfo.InvariantCulture);
            return new RealPyTorchServer(child, actualPort, useLibUv);
        }
        catch
        {
            await child.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the server (closes its stdin, then kills it if it does not exit within 5 s).</summary>
    /// <returns>A task that completes when the process is gone.</returns>
    public ValueTask DisposeAsync() => _child.DisposeAsync();
}

/// <summary>
/// A real PyTorch 2.10 TCPStore client (<c>tcpstore-shim client</c>). Each method sends one command and
/// returns the parsed reply. Keys are user-level: the real client adds the <c>/</c> prefix on the wire.
/// Commands on one instance are serialized. An error reply throws <see cref="RealClientException"/>;
/// note that after a connection-level error (<c>c10::DistNetworkError</c>) the real client does not
/// reconnect, so every later command on the same instance fails too.
/// </summary>
public sealed class RealPyTorchClient : IAsyncDisposable
{
    private static readonly TimeSpan MinimumReadTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ReadTimeoutMargin = TimeSpan.FromSeconds(30);

    private readonly ShimChild _child;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeSpan _readTimeout;

    private RealPyTorchClient(ShimChild child, TimeSpan storeTimeout)
    {
        _child = child;
        StoreTimeout = storeTimeout;
        _readTimeout = Max(MinimumReadTimeout, storeTimeout + ReadTimeoutMargin);
    }

    /// <summary>
    /// Gets the store timeout given to the real client: it bounds construction, <see cref="GetAsync"/>,
    /// <see cref="MultiGetAsync"/> and blocking <see cref="QueuePopAsync"/>.
    /// </summary>
    public TimeSpan StoreTimeout { get; }

    /// <summary>Gets a value indicating whether the client process has exited.</summary>
    public bool HasExited => _child.HasExited;

    /// <summary>Gets the client's captured stderr (PyTorch's log output), truncated to the most recent part.</summary>
    public string StandardError => _child.StandardError;

    /// <summary>
    /// Constructs a real client (connect with PyTorch's retry/backoff, VALIDATE, PING) against
    /// <paramref name="host"/>:<paramref name="port"/>.
    /// </summary>
    /// <param name="host">Server host name or address.</param>
    /// <param name="port">Server port.</param>
    /// <param name="timeout">The store timeout (construction deadline and default wait timeout).</param>
    /// <param name="worldSize">
    /// If set, the client is constructed with this world size and therefore sends <c>ADD init/ 1</c>
    /// during construction (it does not wait for other workers, since it is not the server).
    /// </param>
    /// <param name="useLibUv">
    /// The client's own <c>use_libuv</c> flag; when <see langword="false"/> the real client refuses queue
    /// operations locally with <c>c10::NotImplementedError</c>.
    /// </param>
    /// <param name="cancellationToken">Cancels the connection attempt (the process is then killed).</param>
    /// <param name="glooRank">
    /// If set (with <paramref name="worldSize"/>), the client first joins a real c10d::ProcessGroupGloo as
    /// this rank over the store (native/shim/README.md, "gloo"), and is ready once gloo's mesh is connected.
    /// </param>
    /// <returns>The connected client.</returns>
    /// <exception cref="RealClientException">The real client failed to connect.</exception>
    /// <exception cref="FileNotFoundException">The shim has not been built.</exception>
    public static async Task<RealPyTorchClient> ConnectAsync(
        string host,
        int port,
        TimeSpan timeout,
        int? worldSize = null,
        bool useLibUv = true,
        int? glooRank = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        var args = new List<string>
        {
            "client",
            "--host", host,
            "--port", port.ToString(CultureInfo.InvariantCulture),
            "--timeout-ms", ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            "--libuv", useLibUv ? "1" : "0",
        };
        if (worldSize is { } ws)
        {
            args.Add("--world-size");
            args.Add(ws.ToString(CultureInfo.InvariantCulture));
        }

        if (glooRank is { } rank)
        {
            // Joins a real ProcessGroupGloo of worldSize ranks first; "ready" comes once its mesh is connected.
            args.Add("--gloo-rank");
            args.Add(rank.ToString(CultureInfo.InvariantCulture));
        }

        ShimChild child = ShimChild.Start(args);
        try
        {
            string line = await child.ReadLineAsync(Max(MinimumReadTimeout, timeout + ReadTimeoutMargin), cancellationToken)
                .ConfigureAwait(false);
            if (line == "ready")
            {
                return new RealPyTorchClient(child, timeout);
            }

            throw line.StartsWith("err ", StringComparison.Ordinal)
                ? new RealClientException(line[4..])
                : new InvalidOperationException($"unexpected shim output: {line}");
        }
        catch
        {
            await child.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Converts a string to UTF-8 bytes (as Python does for <c>str</c> keys and values).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The UTF-8 encoding of <paramref name="text"/>.</returns>
    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Real <c>set(key, value)</c>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    /// <returns>A task that completes when the shim has sent the request (SET has no reply on the wire).</returns>
    public Task SetAsync(byte[] key, byte[] value) => RunAsync($"set {Hex(key)} {Hex(value)}");

    /// <summary>Real <c>get(key)</c>: WAIT (with <see cref="StoreTimeout"/>) then GET.</summary>
    /// <param name="key">The key.</param>
    /// <returns>The value (empty if the server replied with an empty value).</returns>
    public async Task<byte[]> GetAsync(byte[] key) => ParseBytes(await RunAsync($"get {Hex(key)}").ConfigureAwait(false), 0);

    /// <summary>Real <c>add(key, delta)</c>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="delta">The amount to add.</param>
    /// <returns>The new value.</returns>
    public async Task<long> AddAsync(byte[] key, long delta)
        => ParseLong(await RunAsync($"add {Hex(key)} {delta.ToString(CultureInfo.InvariantCulture)}").ConfigureAwait(false));

    /// <summary>Real <c>compare_set(key, expected, desired)</c>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="expected">The expected current value (empty means "missing or empty").</param>
    /// <param name="desired">The value to store on a match.</param>
    /// <returns>The bytes the server replied with.</returns>
    public async Task<byte[]> CompareSetAsync(byte[] key, byte[] expected, byte[] desired)
        => ParseBytes(await RunAsync($"cas {Hex(key)} {Hex(expected)} {Hex(desired)}").ConfigureAwait(false), 0);

    /// <summary>Real <c>check(keys)</c>.</summary>
    /// <param name="keys">The keys (may be empty).</param>
    /// <returns><see langword="true"/> if all keys exist.</returns>
    public async Task<bool> CheckAsync(params byte[][] keys)
        => ParseLong(await RunAsync(Join("check", keys)).ConfigureAwait(false)) != 0;

    /// <summary>Real <c>wait(keys, timeout)</c>. Throws <see cref="RealClientException"/> (<c>c10::DistStoreError</c>) on timeout.</summary>
    /// <param name="timeout">The client-side wait timeout (0 times out at once, even for existing keys).</param>
    /// <param name="keys">The keys.</param>
    /// <returns>A task that completes when the keys exist.</returns>
    public Task WaitAsync(TimeSpan timeout, params byte[][] keys)
        => RunAsync(
            Join("wait " + ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), keys),
            Max(_readTimeout, timeout + ReadTimeoutMargin));

    /// <summary>
    /// Real <c>ProcessGroupGloo::barrier</c> with its timeout set to <paramref name="timeout"/>, then
    /// <c>Work::wait</c> (the shim's <c>barrier</c> command): a collective over gloo's own TCP pairs, not the
    /// store. Only for a client connected with a gloo rank. Completes once every rank of the group has entered
    /// the barrier; with a rank missing it throws <see cref="RealClientException"/> (gloo's timeout) after
    /// <paramref name="timeout"/>.
    /// </summary>
    /// <param name="timeout">gloo's timeout for this barrier.</param>
    /// <returns>A task that completes when the barrier has passed.</returns>
    public Task GlooBarrierAsync(TimeSpan timeout)
        => RunAsync(
            "barrier " + ((long)timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
            Max(_readTimeout, timeout + ReadTimeoutMargin));

    /// <summary>Real <c>delete_key(key)</c>.</summary>
    /// <param name="key">The key.</param>
    /// <returns><see langword="true"/> if a key was deleted.</returns>
    public async Task<bool> DeleteKeyAsync(byte[] key)
        => ParseLong(await RunAsync($"del {Hex(key)}").ConfigureAwait(false)) != 0;

    /// <summary>Real <c>append(key, value)</c>.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The suffix.</param>
    /// <returns>A task that completes when the request was sent (no reply on the wire).</returns>
    public Task AppendAsync(byte[] key, byte[] value) => RunAsync($"append {Hex(key)} {Hex(value)}");

    /// <summary>Real <c>multi_get(keys)</c>: WAIT on all keys, then MULTI_GET.</summary>
    /// <param name="keys">The keys.</param>
    /// <returns>The values in request order.</returns>
    public async Task<IReadOnlyList<byte[]>> MultiGetAsync(params byte[][] keys)
        => ParseList(await RunAsync(Join("mget", keys)).ConfigureAwait(false));

    /// <summary>Real <c>multi_set(keys, values)</c>.</summary>
    /// <param name="keys">The keys.</param>
    /// <param name="values">The values, same count as <paramref name="keys"/>.</param>
    /// <returns>A task that completes when the request was sent (no reply on the wire).</returns>
    public Task MultiSetAsync(IReadOnlyList<byte[]> keys, IReadOnlyList<byte[]> values)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (keys.Count != values.Count)
        {
            throw new ArgumentException("keys and values must have the same length", nameof(values));
        }

        var sb = new StringBuilder("mset");
        for (int i = 0; i < keys.Count; i++)
        {
            sb.Append(' ').Append(Hex(keys[i])).Append(' ').Append(Hex(values[i]));
        }

        return RunAsync(sb.ToString());
    }

    /// <summary>Real <c>num_keys()</c> (counts every key on the server, including <c>init/</c>; not queues).</summary>
    /// <returns>The number of keys.</returns>
    public async Task<long> GetNumKeysAsync() => ParseLong(await RunAsync("numkeys").ConfigureAwait(false));

    /// <summary>Real <c>list_keys()</c>: only keys starting with <c>/</c>, with that prefix stripped.</summary>
    /// <returns>The keys, in server order.</returns>
    public async Task<IReadOnlyList<byte[]>> ListKeysAsync() => ParseList(await RunAsync("listkeys").ConfigureAwait(false));

    /// <summary>Real <c>ping()</c> (sends the client's pid and checks the echo).</summary>
    /// <returns>A task that completes when the echo was verified.</returns>
    public Task PingAsync() => RunAsync("ping");

    /// <summary>Real <c>queue_push(queue, value)</c> (libuv servers only; legacy closes the connection,
    /// which surfaces on the next command since QUEUE_PUSH has no reply).</summary>
    /// <param name="queue">The queue name.</param>
    /// <param name="value">The value.</param>
    /// <returns>A task that completes when the request was sent.</returns>
    public Task QueuePushAsync(byte[] queue, byte[] value) => RunAsync($"qpush {Hex(queue)} {Hex(value)}");

    /// <summary>Real <c>queue_pop(queue, block)</c>. An empty queue with <paramref name="block"/> = false throws
    /// <see cref="RealClientException"/> (<c>c10::DistQueueEmptyError</c>).</summary>
    /// <param name="queue">The queue name.</param>
    /// <param name="block">Whether to WAIT (up to <see cref="StoreTimeout"/>) for an item first.</param>
    /// <returns>The popped value.</returns>
    public async Task<byte[]> QueuePopAsync(byte[] queue, bool block)
        => ParseBytes(await RunAsync($"qpop {Hex(queue)} {(block ? "1" : "0")}").ConfigureAwait(false), 0);

    /// <summary>Real <c>queue_len(queue)</c>.</summary>
    /// <param name="queue">The queue name.</param>
    /// <returns>The queue length.</returns>
    public async Task<long> QueueLengthAsync(byte[] queue) => ParseLong(await RunAsync($"qlen {Hex(queue)}").ConfigureAwait(false));

    /// <summary>
    /// Sends a raw command line (see <c>native/shim/README.md</c>) and returns the raw reply line
    /// (<c>ok ...</c> or <c>err ...</c>) without interpreting it.
    /// </summary>
    /// <param name="commandLine">The command line, without a trailing newline.</param>
    /// <returns>The reply line.</returns>
    public async Task<string> SendRawAsync(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _child.WriteLineAsync(commandLine).ConfigureAwait(false);
            return await _child.ReadLineAsync(_readTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Closes the shim's stdin (it then exits, closing the connection) and waits for the process to exit,
    /// killing it after 5 s (for example when a blocking command is still in flight).
    /// </summary>
    /// <returns>A task that completes when the process is gone.</returns>
    public ValueTask DisposeAsync() => _child.DisposeAsync();

    /// <summary>Hex-encodes a key or value for the shim's line protocol (<c>-</c> for empty).</summary>
    /// <param name="data">The bytes.</param>
    /// <returns>Lower-case hex, or <c>-</c>.</returns>
    internal static string Hex(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Length == 0 ? "-" : Convert.ToHexStringLower(data);
    }

    private static byte[] Unhex(string token) => token == "-" ? [] : Convert.FromHexString(token);

    private static string Join(string command, byte[][] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var sb = new StringBuilder(command);
        foreach (byte[] key in keys)
        {
            sb.Append(' ').Append(Hex(key));
        }

        return sb.ToString();
    }

    private static string[] Payload(string reply)
        => reply.Length <= 2 ? [] : reply[3..].Split(' ');

    private static byte[] ParseBytes(string reply, int index)
    {
        string[] tokens = Payload(reply);
        return index < tokens.Length ? Unhex(tokens[index]) : throw new InvalidOperationException($"unexpected shim reply: {reply}");
    }

    private static long ParseLong(string reply)
    {
        string[] tokens = Payload(reply);
        return tokens.Length == 1
            ? long.Parse(tokens[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"unexpected shim reply: {reply}");
    }

    private static byte[][] ParseList(string reply) => Array.ConvertAll(Payload(reply), Unhex);

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a >= b ? a : b;

    private Task<string> RunAsync(string commandLine) => RunAsync(commandLine, _readTimeout);

    private async Task<string> RunAsync(string commandLine, TimeSpan readTimeout)
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        string reply;
        try
        {
            await _child.WriteLineAsync(commandLine).ConfigureAwait(false);
            reply = await _child.ReadLineAsync(readTimeout, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        if (reply == "ok" || reply.StartsWith("ok ", StringComparison.Ordinal))
        {
            return reply;
        }

        if (reply.StartsWith("err ", StringComparison.Ordinal))
        {
            throw new RealClientException(reply[4..]);
        }

        throw new InvalidOperationException($"unexpected shim reply: {reply}");
    }
}
