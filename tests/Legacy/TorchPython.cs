using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace TcpStore.Tests.Legacy;

/// <summary>
/// Runs scripts under a Python that has PyTorch 1.13 (Debian's python3-torch installs into the
/// system Python, which is often not the first python3 on PATH). CI installs it (.ci/run); a
/// machine without it fails these tests with the reason rather than skipping them.
/// </summary>
public static class TorchPython
{
    /// <summary>Overrides the interpreter (a path to a python3 whose torch is 1.13).</summary>
    public const string EnvironmentVariable = "TCPSTORE_TORCH113_PYTHON";

    private static readonly Lazy<string?> Interpreter = new(Find);

    /// <summary>The interpreter's path.</summary>
    public static string Locate() => Interpreter.Value
        ?? throw new InvalidOperationException(
            "no python3 with PyTorch 1.13 found (tried $" + EnvironmentVariable + ", /usr/bin/python3, python3); install Debian's python3-torch");

    /// <summary>The path of a script in tests/Legacy/python.</summary>
    public static string Script(string name)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "tests", "Legacy", "python", name);
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln")) && File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("tests/Legacy/python/" + name + " not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Starts <c>python3 args…</c> with stdout and stderr captured.</summary>
    public static Process Start(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(Locate())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // Keep the children off any proxy or GPU the machine may have, and unbuffered.
        info.Environment["PYTHONUNBUFFERED"] = "1";
        info.Environment["CUDA_VISIBLE_DEVICES"] = string.Empty;
        info.Environment["OMP_NUM_THREADS"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("could not start " + info.FileName);
    }

    /// <summary>Runs a script to completion (killed at <paramref name="timeout"/>); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var process = Start(arguments, environment);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, await output, "killed after " + timeout + "\n" + await error);
        }

        return (process.ExitCode, await output, await error);
    }

    /// <summary>A port number as an argument.</summary>
    public static string Arg(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static string? Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnv)
        {
            candidates.Add(fromEnv);
        }

        candidates.Add("/usr/bin/python3");
        candidates.Add("python3");
        foreach (var candidate in candidates)
        {
            try
            {
                var info = new ProcessStartInfo(candidate, ["-c", "import torch; print(torch.__version__)"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                };
                using var process = Process.Start(info);
                if (process is null)
                {
                    continue;
                }

                var version = process.StandardOutput.ReadToEnd();
                process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode == 0 && version.StartsWith("1.13", StringComparison.Ordinal))
                {
                    return candidate;
                }
            }
            catch (System.ComponentModel.Win32Exception)
            {
                // Not installed at that path: try the next one.
            }
        }

        return null;
    }

    /// <summary>Joins output for assertion messages.</summary>
    public static string Describe(int exitCode, string output, string error)
    {
        var text = new StringBuilder();
        text.Append("exit ").Append(exitCode).AppendLine().AppendLine(output);
        text.AppendLine("--- stderr ---").Append(error.Length > 4000 ? error[^4000..] : error);
        return text.ToString();
    }
}
