using TcpStore.Fuzz.Harness;

namespace TcpStore.Tests.Fuzz;

/// <summary>
/// Replays every committed fuzz input (PyTorch-recorded seeds, hand-made edge cases and every
/// regression found by fuzzing) through both harness bodies, so CI re-checks them on each run.
/// </summary>
public sealed class CorpusReplayTests
{
    public static TheoryData<string> CorpusFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(CorpusRoot(), "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetRelativePath(CorpusRoot(), file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Request_reader_harness_holds_on(string file) => CodecHarness.Run(File.ReadAllBytes(Path.Combine(CorpusRoot(), file)));

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void Session_harness_holds_on(string file) => SessionHarness.Run(File.ReadAllBytes(Path.Combine(CorpusRoot(), file)));

    [Fact]
    public void Corpus_holds_the_recorded_pytorch_sessions_and_edge_cases()
    {
        // Guards against a moved or emptied corpus silently turning the theories above into no-ops.
        var files = Directory.EnumerateFiles(CorpusRoot(), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(CorpusRoot(), f)).ToList();
        Assert.True(files.Count(f => f.StartsWith("pytorch", StringComparison.Ordinal)) >= 6, string.Join(", ", files));
        Assert.True(files.Count(f => f.StartsWith("edge", StringComparison.Ordinal)) >= 10, string.Join(", ", files));
        // PyTorch 1.13's client, recorded through the proxy: no VALIDATE, the first byte is already a command.
        var legacy = files.Where(f => f.StartsWith("torch113", StringComparison.Ordinal)).ToList();
        Assert.True(legacy.Count >= 2, string.Join(", ", files));
        Assert.All(legacy, f => Assert.Equal(true, TcpStore.Codec.LegacyCodes.IsLegacyOpening(File.ReadAllBytes(Path.Combine(CorpusRoot(), f)))));

        // Every recorded session starts with VALIDATE and the magic, as the real client sends it.
        foreach (var file in files.Where(f => f.StartsWith("pytorch", StringComparison.Ordinal)))
        {
            var bytes = File.ReadAllBytes(Path.Combine(CorpusRoot(), file));
            Assert.Equal(new byte[] { 0x00, 0xCE, 0xF7, 0x85, 0x3C }, bytes[..5]);
        }
    }

    private static string CorpusRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "fuzz", "corpus");
            if (File.Exists(Path.Combine(dir.FullName, "TcpStore.sln")) && Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("fuzz/corpus not found above " + AppContext.BaseDirectory);
    }
}
