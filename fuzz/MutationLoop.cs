using TcpStore.Fuzz.Harness;

namespace TcpStore.Fuzz;

/// <summary>
/// A coverage-blind mutation fuzzer in plain .NET: the fallback for machines where AFL++ cannot be
/// installed. It mutates corpus files with the usual byte-level operators plus protocol-aware ones
/// (boundary lengths and counts, command bytes) and stops at the first exception or the deadline.
/// </summary>
internal static class MutationLoop
{
    private static readonly ulong[] InterestingLengths =
    [
        0, 1, 7, 8, 63, 64, 65, 255, 256, 257, 8191, 8192, 8193, 131_072, 131_073,
        8_388_608, 8_388_609, int.MaxValue, (ulong)int.MaxValue + 1, 1UL << 63, ulong.MaxValue,
    ];

    public static int Run(Targets.Target target, string corpusDir, string crashDir, TimeSpan duration)
    {
        var seeds = Directory.EnumerateFiles(corpusDir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        if (seeds.Count == 0)
        {
            seeds.Add([0]);
        }

        var random = new Random(Environment.TickCount);
        var deadline = DateTime.UtcNow + duration;
        long executions = 0;
        while (DateTime.UtcNow < deadline)
        {
            var input = Mutate(seeds[random.Next(seeds.Count)], seeds[random.Next(seeds.Count)], random);
            executions++;
            try
            {
                target(input);
            }
            catch (Exception ex)
            {
                Directory.CreateDirectory(crashDir);
                var path = Path.Combine(crashDir, $"crash-{DateTime.UtcNow:yyyyMMddHHmmss}-{executions}.bin");
                File.WriteAllBytes(path, input);
                Console.Error.WriteLine($"CRASH after {executions} executions, input saved to {path}:\n{Convert.ToHexString(input)}\n{ex}");
                return 1;
            }
        }

        Console.WriteLine($"mutate: {executions} executions in {duration.TotalSeconds:F0} s, no crash");
        return 0;
    }

    private static byte[] Mutate(byte[] seed, byte[] other, Random random)
    {
        var data = new List<byte>(seed);
        var rounds = 1 + random.Next(4);
        for (var i = 0; i < rounds; i++)
        {
            var at = data.Count == 0 ? 0 : random.Next(data.Count);
            switch (random.Next(8))
            {
                case 0 when data.Count > 0:
                    data[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[at] = (byte)random.Next(256);
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + random.Next(16)));
                    break;
                case 3:
                    data.InsertRange(at, RandomBytes(random, 1 + random.Next(16)));
                    break;
                case 4:
                    data.InsertRange(at, BitConverter.GetBytes(InterestingLengths[random.Next(InterestingLengths.Length)]));
                    break;
                case 5 when data.Count >= 8:
                    var len = BitConverter.GetBytes(InterestingLengths[random.Next(InterestingLengths.Length)]);
                    at = Math.Min(at, data.Count - 8);
                    for (var j = 0; j < 8; j++)
                    {
                        data[at + j] = len[j];
                    }

                    break;
                case 6 when data.Count > 0:
                    data[at] = (byte)random.Next(20);
                    break;
                default:
                    // Splice: a random slice of another seed.
                    var from = other.Length == 0 ? 0 : random.Next(other.Length);
                    data.InsertRange(at, other.Skip(from).Take(1 + random.Next(64)));
                    break;
            }
        }

        return [.. data];
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }
}
