using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TcpStore.Tests.Client;

namespace TcpStore.Tests.Packaging;

/// <summary>
/// What `dotnet pack` ships, used the way a user gets it: the tool package installed with `dotnet tool install
/// --tool-path` from a folder (offline), then `tcpstore serve` and `tcpstore ping` run from the installed copy; and
/// a library package carrying its README, XML docs and dependencies. Packs with --no-build from the Release build
/// the test run already made, and only the two projects it looks at.
/// </summary>
public sealed partial class ToolPackageTests
{
    private const int SIGTERM = 15;

    [Fact]
    public async Task The_packed_tool_installs_offline_and_its_tcpstore_command_serves_and_pings()
    {
        var work = Directory.CreateTempSubdirectory("tcpstore-pack-");
        try
        {
            var feed = Path.Combine(work.FullName, "feed");
            await DotnetAsync(["pack", Path.Combine(RepositoryRoot, "src", "Cli", "TcpStore.Cli.csproj"), "-c", "Release", "--no-build", "-o", feed]);
            var package = Assert.Single(Directory.GetFiles(feed, "tcpstore.*.nupkg"));
            using (var zip = ZipFile.OpenRead(package))
            {
                Assert.Contains(zip.Entries, e => e.FullName == "README.md");
                Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/DotnetToolSettings.xml", StringComparison.Ordinal));
            }

            // Only the folder as a source: nothing comes from a remote feed.
            var config = Path.Combine(work.FullName, "nuget.config");
            await File.WriteAllTextAsync(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration><packageSources><clear /><add key="local" value="{feed}" /></packageSources></configuration>
                """, TestContext.Current.CancellationToken);
            var tools = Path.Combine(work.FullName, "tools");
            await DotnetAsync(["tool", "install", "--tool-path", tools, "--add-source", feed, "--configfile", config, "tcpstore"]);
            var tcpstore = Path.Combine(tools, "tcpstore");
            Assert.True(File.Exists(tcpstore), "no tcpstore command after install");

            using var server = Start(tcpstore, "serve", "--port", "0", "--host", "127.0.0.1");
            var stderr = server.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                var line = await server.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
                var match = Regex.Match(line ?? string.Empty, @"^listening on 127\.0\.0\.1:(\d+)$");
                Assert.True(match.Success, $"first stdout line: '{line}'");

                using var ping = Start(tcpstore, "ping", "--port", match.Groups[1].Value);
                var pong = await ping.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
                await ping.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60));
                Assert.Equal(0, ping.ExitCode);
                Assert.Matches(@"^pong [0-9.]+ ms\n$", pong);

                Assert.Equal(0, Kill(server.Id, SIGTERM));
                await server.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Equal(0, server.ExitCode);
            }
            finally
            {
                if (!server.HasExited)
                {
                    server.Kill();
                }

                _ = await stderr;
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_server_library_package_has_its_readme_xml_docs_and_package_dependencies()
    {
        var feed = Directory.CreateTempSubdirectory("tcpstore-pack-lib-");
        try
        {
            await DotnetAsync(["pack", Path.Combine(RepositoryRoot, "src", "Server", "TcpStore.Server.csproj"), "-c", "Release", "--no-build", "-o", feed.FullName]);
            using var zip = ZipFile.OpenRead(Assert.Single(Directory.GetFiles(feed.FullName, "TcpStore.Server.*.nupkg")));
            Assert.Contains(zip.Entries, e => e.FullName == "README.md");
            Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/TcpStore.Server.dll");
            Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/TcpStore.Server.xml");
            using var nuspec = new StreamReader(zip.GetEntry("TcpStore.Server.nuspec")!.Open());
            var text = await nuspec.ReadToEndAsync(TestContext.Current.CancellationToken);
            Assert.Contains("<readme>README.md</readme>", text, StringComparison.Ordinal);
            Assert.Contains("<dependency id=\"TcpStore.Core\"", text, StringComparison.Ordinal);
        }
        finally
        {
            feed.Delete(recursive: true);
        }
    }

    private static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("TcpStore.sln not found above the test assembly");
    }

    private static async Task DotnetAsync(string[] arguments)
    {
        using var process = Start(CliRunner.DotnetHost(), arguments);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromMinutes(5));
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', arguments)} exited {process.ExitCode}: {await stdout}{await stderr}");
    }

    private static Process Start(string executable, params string[] arguments)
    {
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The installed command's launcher finds the runtime through DOTNET_ROOT wherever the SDK lives.
        info.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(CliRunner.DotnetHost());
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        return Process.Start(info) ?? throw new InvalidOperationException($"{executable} did not start");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
