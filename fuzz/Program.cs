using TcpStore.Fuzz.Harness;

namespace TcpStore.Fuzz;

/// <summary>Entry point of the fuzzing tool; see fuzz/README.md for how each mode is used.</summary>
public static class Program
{
    private const string Usage = """
        usage:
          TcpStore.Fuzz afl <codec|session>                 AFL++ target (SharpFuzz fork server; input from AFL)
          TcpStore.Fuzz libfuzzer <codec|session>           libFuzzer target (run under the libfuzzer-dotnet driver)
          TcpStore.Fuzz replay <codec|session> PATH...       run files (or every file in directories) once each
          TcpStore.Fuzz mutate <codec|session> CORPUS_DIR CRASH_DIR SECONDS
                                                             pure .NET mutation loop (fallback when AFL++ is absent)
          TcpStore.Fuzz record TARGET_PORT OUT_DIR PREFIX    recording proxy on 127.0.0.1 (prints its port; stops at stdin EOF)
          TcpStore.Fuzz waiters PORT COUNT                   COUNT connections WAIT on missing keys; a stdin line drops them all
        """;

    /// <summary>Runs the mode named by the first argument.</summary>
    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 2)
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        if (args[0] == "record" && args.Length == 4)
        {
            return await RecordingProxy.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args[2], args[3]);
        }

        if (args[0] == "waiters" && args.Length == 3)
        {
            return await WaiterFlood.RunAsync(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture));
        }

        if (!Targets.TryGet(args[1], out var target))
        {
            await Console.Error.WriteLineAsync($"unknown target '{args[1]}'\n{Usage}");
            return 2;
        }

        switch (args[0])
        {
            case "afl":
                SharpFuzz.Fuzzer.OutOfProcess.Run(stream => target(ReadAll(stream)));
                return 0;
            case "libfuzzer":
                SharpFuzz.Fuzzer.LibFuzzer.Run(span => target(span));
                return 0;
            case "replay":
                return Replay(target, args[2..]);
            case "mutate" when args.Length == 5:
                return MutationLoop.Run(target, args[2], args[3], TimeSpan.FromSeconds(double.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture)));
            default:
                await Console.Error.WriteLineAsync(Usage);
                return 2;
        }
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private static int Replay(Targets.Target target, string[] paths)
    {
        var failures = 0;
        var files = paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories) : [p]).Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            try
            {
                target(File.ReadAllBytes(file));
            }
            catch (Exception ex)
            {
                failures++;
                Console.Error.WriteLine($"{file}: {ex}");
            }
        }

        Console.WriteLine(failures == 0 ? "replay: no failures" : $"replay: {failures} failing inputs");
        return failures == 0 ? 0 : 1;
    }
}

/// <summary>The fuzz targets by name.</summary>
public static class Targets
{
    /// <summary>One fuzz target body.</summary>
    public delegate void Target(ReadOnlySpan<byte> data);

    /// <summary>Looks a target up by its command-line name.</summary>
    public static bool TryGet(string name, out Target target)
    {
        target = name switch
        {
            "codec" => CodecHarness.Run,
            "session" => SessionHarness.Run,
            _ => null!,
        };
        return target is not null;
    }
}
