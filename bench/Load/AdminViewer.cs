using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TcpStore.Bench.Load;

/// <summary>
/// Keeps the admin live page "open" on an <c>ours-admin</c> server for the whole load run
/// (<c>bench load --servers ours,ours-admin</c>), in one of two ways (<c>--admin-viewer</c>):
/// <list type="bullet">
/// <item><c>poll</c> (default): this process fetches exactly what the page fetches (<c>/api/page</c>)
/// at the page's cadence (a second after the previous answer). It runs beside the load generator
/// and costs it one HTTP request a second, so what differs between the two servers is the
/// server's own cost of the listener and of answering the page: the number the 3 % target is about.</item>
/// <item><c>chromium:N</c>: the page in headless Chromium pinned to CPU N. On this two-core machine
/// the browser then competes with the load generator (N = 1) or the server (N = 0); on a real
/// deployment it runs on the operator's machine, so these rows measure the sandbox, not the server.</item>
/// </list>
/// </summary>
public sealed class AdminViewer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _polling = Task.CompletedTask;
    private readonly Process? _browser;
    private readonly string? _profile;

    private AdminViewer(Uri page, string mode)
    {
        if (mode == "poll")
        {
            _polling = PollAsync(new Uri(page, "api/page"), _stop.Token);
            return;
        }

        var cpu = mode.StartsWith("chromium:", StringComparison.Ordinal)
            && int.TryParse(mode["chromium:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n
            : throw new ArgumentException($"--admin-viewer must be poll or chromium:CPU, got '{mode}'");
        _profile = Directory.CreateTempSubdirectory("tcpstore-bench-chromium").FullName;
        var start = new ProcessStartInfo { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        var command = new List<string>(CpuAffinity.TasksetPrefix(cpu))
        {
            "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + _profile,
            "--remote-debugging-port=0", page.ToString(),
        };
        start.FileName = command[0];
        foreach (var arg in command.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        _browser = Process.Start(start) ?? throw new InvalidOperationException("cannot start chromium");
        _browser.OutputDataReceived += static (_, _) => { };
        _browser.ErrorDataReceived += static (_, _) => { };
        _browser.BeginOutputReadLine();
        _browser.BeginErrorReadLine();
    }

    /// <summary>Opens the page of the admin listener at <paramref name="page"/> the way <paramref name="mode"/> says.</summary>
    public static async Task<AdminViewer> OpenAsync(Uri page, string mode, CancellationToken cancellationToken)
    {
        var viewer = new AdminViewer(page, mode);
        // Let the browser start and render its first snapshot before the load begins.
        await Task.Delay(viewer._browser is null ? TimeSpan.Zero : TimeSpan.FromSeconds(3), cancellationToken).ConfigureAwait(false);
        return viewer;
    }

    /// <summary>A free loopback TCP port for the admin listener.</summary>
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Polls answered so far (0 for a browser: it is not counted).</summary>
    public int Polls { get; private set; }

    /// <summary>Polls that failed.</summary>
    public int Failures { get; private set; }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _polling.ConfigureAwait(false);
        if (_browser is not null)
        {
            try
            {
                _browser.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited meanwhile.
            }

            await _browser.WaitForExitAsync().ConfigureAwait(false);
            _browser.Dispose();
            Directory.Delete(_profile!, recursive: true);
        }

        _stop.Dispose();
    }

    private async Task PollAsync(Uri feed, CancellationToken cancellationToken)
    {
        using var http = new HttpClient();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync(feed, cancellationToken).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                _ = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                Polls++;
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (HttpRequestException)
            {
                // Counted and shown with the results: a page that cannot load measures nothing.
                Failures++;
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
