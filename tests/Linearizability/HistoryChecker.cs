using System.Globalization;
using System.Text.RegularExpressions;

namespace TcpStore.Tests.Linearizability;

/// <summary>
/// Checks a recorded history against the properties each key family must have if the server is
/// linearizable.
/// </summary>
/// <remarks>
/// Why our own checker instead of a general one (Knossos/Porcupine style): general linearizability
/// checking is NP-complete and those tools are not .NET libraries. The workload instead gives each
/// key family a shape whose check is polynomial and exact enough to catch lost, torn, stale,
/// duplicated and early results: counters only ever ADD positive deltas, CAS keys form a chain of
/// unique desired values, registers hold self-describing values, logs only APPEND unique tokens,
/// and wait keys are set once (WAIT and CHECK name several of them). Key groups, the keys that
/// MULTI_SET, MULTI_GET, CHECK, WAIT and DELETE span together across shards, get the exact search of
/// <see cref="GroupChecker"/>: atomicity across keys is what sharding could break, and no per-key
/// property sees it. Sizes are bounded (a few thousand operations), so the quadratic scans are fine.
/// </remarks>
public static partial class HistoryChecker
{
    /// <summary>All violations found (empty when the history is consistent).</summary>
    public static List<string> Check(IReadOnlyList<Op> history, IReadOnlyDictionary<string, string> finalValues)
    {
        var errors = new List<string>();
        CheckWaits([.. history.Where(o => o.Key.Contains("/wait/", StringComparison.Ordinal))], errors);
        foreach (var group in history.GroupBy(o => o.Key))
        {
            var ops = group.ToList();
            var key = group.Key;
            if (key.Contains("/ctr/", StringComparison.Ordinal))
            {
                CheckCounter(key, ops, finalValues, errors);
            }
            else if (key.Contains("/cas/", StringComparison.Ordinal))
            {
                CheckCompareSet(key, ops, finalValues, errors);
            }
            else if (key.Contains("/reg/", StringComparison.Ordinal))
            {
                CheckRegister(key, ops, errors);
            }
            else if (key.Contains("/log/", StringComparison.Ordinal))
            {
                CheckLog(key, ops, finalValues, errors);
            }
            else if (key.Contains("/grp/", StringComparison.Ordinal))
            {
                GroupChecker.Check(key, ops, errors);
            }
        }

        return errors;
    }

    // ADD with positive deltas: sorting by result must give a chain where each result is the
    // previous plus its own delta, the last equals the stored total, and real-time order agrees.
    private static void CheckCounter(string key, List<Op> ops, IReadOnlyDictionary<string, string> finalValues, List<string> errors)
    {
        var adds = ops.Where(o => o.Kind == OpKind.Add).OrderBy(o => long.Parse(o.Result, CultureInfo.InvariantCulture)).ToList();
        long total = 0;
        foreach (var add in adds)
        {
            total += long.Parse(add.Argument, CultureInfo.InvariantCulture);
            if (long.Parse(add.Result, CultureInfo.InvariantCulture) != total)
            {
                errors.Add($"{key}: ADD {add.Argument} by client {add.Client} returned {add.Result}, but the sums of the ADDs ordered before it give {total}");
                return;
            }
        }

        if (adds.Count > 0 && finalValues.GetValueOrDefault(key) != total.ToString(CultureInfo.InvariantCulture))
        {
            errors.Add($"{key}: final value {finalValues.GetValueOrDefault(key)} but the ADDs total {total}");
        }

        for (var i = 0; i < adds.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (adds[i].Precedes(adds[j]))
                {
                    errors.Add($"{key}: ADD returning {adds[i].Result} finished before ADD returning {adds[j].Result} began");
                    return;
                }
            }
        }
    }

    // CAS values are "generation:client:sequence". A CAS won when its reply equals its desired value;
    // per expected value there can be at most one winner, and the winners chain from the initial value
    // to the final one.
    private static void CheckCompareSet(string key, List<Op> ops, IReadOnlyDictionary<string, string> finalValues, List<string> errors)
    {
        var wins = ops.Where(o => o.Kind == OpKind.CompareSet && o.Result == o.Desired).ToList();
        foreach (var contested in wins.GroupBy(w => w.Argument).Where(g => g.Count() > 1))
        {
            errors.Add($"{key}: {contested.Count()} COMPARE_SET winners for expected value '{contested.Key}'");
        }

        var next = wins.GroupBy(w => w.Argument).ToDictionary(g => g.Key, g => g.First().Desired);
        var value = "0:init:0";
        var steps = 0;
        while (next.TryGetValue(value, out var following) && steps <= wins.Count)
        {
            value = following;
            steps++;
        }

        if (steps != wins.Count || finalValues.GetValueOrDefault(key) != value)
        {
            errors.Add($"{key}: {wins.Count} winning COMPARE_SETs but the chain from the initial value has {steps} links and ends at '{value}', stored '{finalValues.GetValueOrDefault(key)}'");
        }

        foreach (var cas in ops.Where(o => o.Kind == OpKind.CompareSet && o.Result != o.Desired))
        {
            // A losing CAS reports the current value: one that some winner wrote (or the initial one).
            if (cas.Result != "0:init:0" && !wins.Any(w => w.Desired == cas.Result && w.Invoked < cas.Returned))
            {
                errors.Add($"{key}: losing COMPARE_SET saw '{cas.Result}', which no earlier winner wrote");
            }
        }
    }

    // SET writes unique self-checking values, DELETE writes "absent". A GET must return a value some
    // write began before the GET ended, and no other write may lie entirely between them (stale read).
    private static void CheckRegister(string key, List<Op> ops, List<string> errors)
    {
        var writes = ops.Where(o => o.Kind is OpKind.Set or OpKind.Delete).ToList();
        var initial = new Op(-1, OpKind.Delete, key, string.Empty, string.Empty, string.Empty, long.MinValue, long.MinValue);
        writes.Add(initial);
        foreach (var get in ops.Where(o => o.Kind == OpKind.Get))
        {
            if (get.Result.Length > 0 && !RegisterValue().IsMatch(get.Result))
            {
                errors.Add($"{key}: GET returned a torn value '{Shorten(get.Result)}'");
                continue;
            }

            var candidates = writes.Where(w => (w.Kind == OpKind.Set ? w.Argument : string.Empty) == get.Result && w.Invoked < get.Returned).ToList();
            if (candidates.Count == 0)
            {
                errors.Add($"{key}: GET by client {get.Client} returned '{Shorten(get.Result)}', which no write had begun to store");
                continue;
            }

            var fresh = candidates.Any(source => !writes.Any(w => !ReferenceEquals(w, source) && source.Precedes(w) && w.Precedes(get)));
            if (!fresh)
            {
                errors.Add($"{key}: GET by client {get.Client} returned '{Shorten(get.Result)}', overwritten before the GET began (stale read)");
            }
        }
    }

    // Logs only grow by unique tokens "[client.seq]". Every read is a sequence of whole tokens, each
    // appended (begun) before the read ended, each once, each client's in program order; every
    // append finished before a read began is in it; the final value holds every append.
    private static void CheckLog(string key, List<Op> ops, IReadOnlyDictionary<string, string> finalValues, List<string> errors)
    {
        var appends = ops.Where(o => o.Kind == OpKind.Append).ToDictionary(o => o.Argument);
        var reads = ops.Where(o => o.Kind == OpKind.Get).ToList();
        reads.Add(new Op(-1, OpKind.Get, key, string.Empty, string.Empty, finalValues.GetValueOrDefault(key) ?? string.Empty, long.MaxValue - 1, long.MaxValue));
        foreach (var read in reads)
        {
            var tokens = LogToken().Matches(read.Result).Select(m => m.Value).ToList();
            if (string.Concat(tokens) != read.Result)
            {
                errors.Add($"{key}: read holds a torn token: '{Shorten(read.Result)}'");
                continue;
            }

            if (tokens.Distinct().Count() != tokens.Count)
            {
                errors.Add($"{key}: read holds a token twice: '{Shorten(read.Result)}'");
            }

            foreach (var token in tokens)
            {
                if (!appends.TryGetValue(token, out var append) || append.Invoked > read.Returned)
                {
                    errors.Add($"{key}: read holds {token}, never appended before the read ended");
                }
            }

            foreach (var missing in appends.Values.Where(a => a.Precedes(read) && !tokens.Contains(a.Argument)))
            {
                errors.Add($"{key}: append {missing.Argument} finished before a read began but is missing from it (lost write)");
            }

            foreach (var client in tokens.Select(t => appends.GetValueOrDefault(t)).Where(a => a is not null).GroupBy(a => a!.Client))
            {
                var sequence = client.Select(a => a!.Invoked).ToList();
                if (!sequence.SequenceEqual(sequence.Order()))
                {
                    errors.Add($"{key}: client {client.Key}'s appends are out of program order in '{Shorten(read.Result)}'");
                }
            }
        }
    }

    // Each wait key is set once (the earliest SET counts). A WAIT, on one key or several, must return
    // after the SET of every key it names began; a CHECK of several keys that answers ready must too,
    // and one that answers not ready must have begun before some key's SET finished.
    private static void CheckWaits(List<Op> ops, List<string> errors)
    {
        var sets = ops.Where(o => o.Kind == OpKind.Set)
            .GroupBy(o => o.WireKeys[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.MinBy(o => o.Invoked)!, StringComparer.Ordinal);
        foreach (var op in ops.Where(o => o.Kind is OpKind.Wait or OpKind.Check))
        {
            var ready = op.Kind == OpKind.Wait || op.Result == "1";
            if (ready)
            {
                foreach (var key in op.WireKeys.Where(k => !sets.TryGetValue(k, out var set) || op.Returned < set.Invoked))
                {
                    errors.Add($"{key}: {op.Describe()} {(op.Kind == OpKind.Wait ? "was released" : "saw every key")} before the key was ever set");
                }
            }
            else if (op.WireKeys.All(k => sets.TryGetValue(k, out var set) && set.Returned < op.Invoked))
            {
                errors.Add($"{op.Describe()} answered not ready, but every key had been set before it began");
            }
        }
    }

    private static string Shorten(string value) => value.Length <= 40 ? value : value[..40] + "...";

    [GeneratedRegex(@"^c\d+s\d+(-c\d+s\d+){7}$")]
    private static partial Regex RegisterValue();

    [GeneratedRegex(@"\[\d+\.\d+\]")]
    private static partial Regex LogToken();
}
