using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace TcpStore.Tests.Client;

/// <summary>Runs the built <c>tcpstore</c> executable (<c>dotnet tcpstore.dll ...</c>) and captures its exit code and output.</summary>
public static class CliRunner
{
    private static readonly TimeSpan ProcessLimit = TimeSpan.FromSeconds(60);

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] Lines => Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        public override string ToString() => $"exit {ExitCode}; stdout: {Stdout}; stderr: {Stderr}";
    }

    /// <summary>The tcpstore.dll next to the test assembly (the Cli project is referenced), else under src/Cli/bin.</summary>
    public static string ToolPath { get; } = Locate();

    /// <summary>
    /// Runs the same command tree in this process (the Cli project is referenced), with stdout and stderr captured:
    /// parsing, actions, output and exit codes exactly as the executable, without a process start per command.
    /// </summary>
    public static async Task<Result> RunInProcessAsync(params string[] arguments)
    {
        var root = new System.CommandLine.RootCommand("tcpstore") { TcpStore.Cli.ServeCommand.Create() };
        TcpStore.Cli.ClientCommands.AddTo(root);
        TcpStore.Cli.AdminCommands.AddTo(root);
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var configuration = new System.CommandLine.InvocationConfiguration { Output = stdout, Error = stderr };
        using var limit = new CancellationTokenSource(ProcessLimit);
        var exitCode = await root.Parse(arguments).InvokeAsync(configuration, limit.Token);
        return new Result(exitCode, stdout.ToString().Replace("\r", string.Empty, StringComparison.Ordinal), stderr.ToString());
    }

    /// <summary>Runs <c>dotnet tcpstore.dll</c> with <paramref name="arguments"/> as a child process.</summary>
    public static async Task<Result> RunAsync(params string[] arguments)
    {
        var psi = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = new UTF8Encoding(false),
            StandardErrorEncoding = new UTF8Encoding(false),
        };
        psi.ArgumentList.Add(ToolPath);
        foreach (var argument in arguments)
        {
            psi.ArgumentList.Add(argument);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(ProcessLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tcpstore {string.Join(' ', arguments)} did not exit within {ProcessLimit}");
        }

        return new Result(process.ExitCode, (await stdout).Replace("\r", string.Empty, StringComparison.Ordinal), await stderr);
    }

    private static string DotnetHost()
    {
        var fromEnv = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv))
        {
            return fromEnv;
        }

        // <root>/shared/Microsoft.NETCore.App/<version>/ -> <root>/dotnet
        var runtimeDir = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory());
        var root = runtimeDir.Parent?.Parent?.Parent;
        var candidate = root is null ? null : Path.Combine(root.FullName, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return candidate is not null && File.Exists(candidate) ? candidate : "dotnet";
    }

    private static string Locate()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "tcpstore.dll");
        if (File.Exists(beside))
        {
            return beside;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var bin = Path.Combine(dir.FullName, "src", "Cli", "bin");
            if (Directory.Exists(bin))
            {
                var found = Directory.EnumerateFiles(bin, "tcpstore.dll", SearchOption.AllDirectories)
                    .OrderByDescending(File.GetLastWriteTimeUtc)
                    .FirstOrDefault();
                if (found is not null)
                {
                    return found;
                }
            }
        }

        throw new FileNotFoundException("tcpstore.dll not found next to the tests or under src/Cli/bin; build the solution first.");
    }
}
