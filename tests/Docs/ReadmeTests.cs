using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using TcpStore.Tests.Client;

namespace TcpStore.Tests.Docs;

/// <summary>
/// Docs that stay true: every C# block in the README is a sample program under samples/ word for word (the samples
/// are built with the tests, so a snippet that stops compiling fails the build), the samples run against a real
/// server, every doc is linked from the README, and no doc points outside the repository.
/// </summary>
public sealed partial class ReadmeTests
{
    private const int SIGTERM = 15;

    private static string Root { get; } = FindRoot();

    private static string Readme => File.ReadAllText(Path.Combine(Root, "README.md"));

    [Fact]
    public void Every_csharp_block_in_the_readme_is_a_sample_program_word_for_word()
    {
        var blocks = CSharpBlock().Matches(Readme);
        Assert.True(blocks.Count >= 3, $"only {blocks.Count} C# blocks with a sample marker");
        Assert.Equal(Regex.Count(Readme, "^```csharp", RegexOptions.Multiline), blocks.Count);
        foreach (Match block in blocks)
        {
            var path = block.Groups["path"].Value;
            var sample = File.ReadAllText(Path.Combine(Root, path)).ReplaceLineEndings("\n").TrimEnd();
            Assert.True(sample == block.Groups["code"].Value.TrimEnd(), $"README's block for {path} differs from the file");
        }
    }

    [Fact]
    public async Task The_embedding_sample_starts_a_server()
    {
        var result = await RunAsync("Embedding", []);
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^listening on port \d+\n$", result.Stdout);
    }

    [Fact]
    public async Task The_client_sample_runs_against_the_hosting_sample()
    {
        using var host = Start("Hosting", ["--TcpStore:Port", "0", "--TcpStore:Host", "127.0.0.1"], []);
        try
        {
            var port = await ListeningPortAsync(host);
            var client = await RunAsync("Client", [], new() { ["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture) });
            Assert.True(client.ExitCode == 0, client.ToString());
            Assert.Equal("rank 0: peer 10.0.0.7:1234\n", client.Stdout);

            var keys = await CliRunner.RunInProcessAsync("keys", "--port", port.ToString(CultureInfo.InvariantCulture));
            Assert.Equal("addr\ndefault_pg/hello\nranks\nready/0\n", keys.Stdout);

            Assert.Equal(0, Kill(host.Id, SIGTERM));
            await host.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, host.ExitCode);
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill();
            }
        }
    }

    [Fact]
    public void Every_doc_is_linked_from_the_readme_and_none_points_outside_the_repository()
    {
        var readme = Readme;
        var docs = Directory.GetFiles(Path.Combine(Root, "docs")).Select(p => "docs/" + Path.GetFileName(p)).ToArray();
        Assert.NotEmpty(docs);
        foreach (var doc in docs)
        {
            Assert.True(readme.Contains($"]({doc})", StringComparison.Ordinal), $"README does not link {doc}");
        }

        foreach (var path in docs.Where(d => d.EndsWith(".md", StringComparison.Ordinal)).Prepend("README.md"))
        {
            var text = File.ReadAllText(Path.Combine(Root, path));
            Assert.False(Regex.IsMatch(text, @"(?<![\w.])/work/|\.\./shared|\.\./\.\./"), $"{path} names a path outside the repository");
            Assert.DoesNotContain("the issue's", text, StringComparison.Ordinal);
        }
    }

    private static async Task<CliRunner.Result> RunAsync(string sample, string[] arguments, Dictionary<string, string>? environment = null)
    {
        using var process = Start(sample, arguments, environment ?? []);
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60));
        return new CliRunner.Result(process.ExitCode, await stdout, await stderr);
    }

    private static Process Start(string sample, string[] arguments, Dictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(CliRunner.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(SampleDll(sample));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"sample {sample} did not start");
    }

    // The sample's build in the tests' configuration (the test project builds the samples).
    private static string SampleDll(string sample)
    {
        var configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        var dll = Path.Combine(Root, "samples", sample, "bin", configuration, "net10.0", $"TcpStore.Samples.{sample}.dll");
        Assert.True(File.Exists(dll), $"{dll} not built");
        return dll;
    }

    private static async Task<int> ListeningPortAsync(Process host)
    {
        // The generic host's console logger writes "listening on 127.0.0.1:PORT" to stdout.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await host.StandardOutput.ReadLineAsync(limit.Token) is { } line)
        {
            var match = Regex.Match(line, @"listening on 127\.0\.0\.1:(\d+)");
            if (match.Success)
            {
                return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("the hosting sample ended without listening");
    }

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

    [GeneratedRegex(@"<!-- sample: (?<path>samples/[\w/.]+) -->\n```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
