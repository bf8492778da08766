using System.Diagnostics;

namespace TcpStore.Tests.Inspection;

/// <summary>Debian's chromium, headless, with a throw-away profile and no background traffic.</summary>
internal static class HeadlessChromium
{
    public const string Path = "/usr/bin/chromium";

    public static bool IsAvailable => File.Exists(Path);

    /// <summary>Loads <paramref name="url"/> and returns the DOM after the page's scripts ran.</summary>
    public static async Task<string> DumpDomAsync(string url) => await RunAsync(url, "--dump-dom");

    /// <summary>Loads <paramref name="url"/> and saves a PNG screenshot to <paramref name="file"/>.</summary>
    public static async Task ScreenshotAsync(string url, string file) =>
        await RunAsync(url, "--screenshot=" + file, "--window-size=1200,820", "--hide-scrollbars");

    private static async Task<string> RunAsync(string url, params string[] extra)
    {
        var profile = Directory.CreateTempSubdirectory("tcpstore-chromium-");
        try
        {
            var psi = new ProcessStartInfo(Path)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + profile.FullName,
            }.Concat(extra).Append(url))
            {
                psi.ArgumentList.Add(argument);
            }

            using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start chromium");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException("chromium did not finish within 60 s: " + await stderr);
            }

            Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
