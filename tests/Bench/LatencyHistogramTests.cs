using FsCheck;
using FsCheck.Fluent;
using TcpStore.Bench.Load;

namespace TcpStore.Tests.Bench;

/// <summary>
/// The load generator's latency histogram (bench/Load/LatencyHistogram.cs, compiled into the tests):
/// every percentile it reports is at or above the true one and at most 1/64 above it, which is what
/// lets `bench load` compare two p99s a few percent apart.
/// </summary>
public sealed class LatencyHistogramTests
{
    private static readonly Config Runs = Config.QuickThrowOnFailure.WithMaxTest(300);

    [Fact]
    public void A_percentile_is_at_most_one_sixty_fourth_above_the_true_value()
    {
        var latencies = Gen.Frequency(
            (3, Gen.Choose(1, 5_000_000).Select(n => (long)n)),
            (1, Gen.Choose(1, 1000).Select(n => (long)n)),
            (1, Gen.Choose(1, int.MaxValue).Select(n => (long)n * 37)));
        var property = Prop.ForAll(Gen.NonEmptyListOf(latencies).ToArbitrary(), Gen.Elements(0.5, 0.9, 0.99, 0.999, 1.0).ToArbitrary(), (samples, fraction) =>
        {
            var histogram = new LatencyHistogram();
            foreach (var sample in samples)
            {
                histogram.Record(sample);
            }

            var sorted = samples.Order().ToArray();
            var exact = sorted[(int)Math.Ceiling(fraction * sorted.Length) - 1];
            var reported = histogram.Percentile(fraction);
            Assert.InRange(reported, exact, exact + (exact / 64));
        });
        property.Check(Runs);
    }

    [Fact]
    public void Merged_histograms_report_what_one_histogram_of_all_samples_reports()
    {
        var property = Prop.ForAll(Gen.ListOf(Gen.Choose(1, 10_000_000).Select(n => (long)n)).ToArbitrary(), Gen.ListOf(Gen.Choose(1, 10_000_000).Select(n => (long)n)).ToArbitrary(), (first, second) =>
        {
            var a = new LatencyHistogram();
            var b = new LatencyHistogram();
            var all = new LatencyHistogram();
            first.ForEach(a.Record);
            second.ForEach(b.Record);
            first.Concat(second).ToList().ForEach(all.Record);
            a.Add(b);
            Assert.Equal(all.Count, a.Count);
            Assert.Equal(all.Percentile(0.99), a.Percentile(0.99));
            Assert.Equal(all.Percentile(0.5), a.Percentile(0.5));
        });
        property.Check(Runs);
    }
}
