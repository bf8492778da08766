using System.Globalization;
using System.Text;

namespace TcpStore.Core.Inspection;

/// <summary>
/// Decodes PyTorch's own key conventions (docs/inspect.md says where each comes from) into
/// rendezvous groups with present and missing ranks. Pure: no sockets, no locks; it reads a snapshot.
/// </summary>
/// <remarks>
/// It never guesses: a world size comes from the operator or from a value whose layout was
/// checked; without one, only ranks at or below the highest rank seen are named missing and the
/// result says that later ranks are unknown.
/// </remarks>
public static class RendezvousDecoder
{
    private const string BarrierMarker = "store_based_barrier_key:";
    private const string LastWorker = ":last_worker";
    private const string NumMembers = "/num_members";
    private const string LastMember = "/last_member";
    private const string Trace = "/TRACE";
    private const string TracingGate = "/TRACING_GATE";

    /// <summary>Decodes <paramref name="input"/>.</summary>
    public static RendezvousReport Decode(RendezvousInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var present = new HashSet<string>(StringComparer.Ordinal);
        var keyBytes = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var key in input.Keys)
        {
            // Most keys of a busy store are the application's own: decide from the bytes first,
            // so a page polling a store of many keys does not turn each into a string every second.
            if (!MayMatter(key))
            {
                continue;
            }

            var text = KeyText.Printable(key);
            present.Add(text);
            keyBytes[text] = key;
        }

        var waitsByKey = new Dictionary<string, List<InspectedWait>>(StringComparer.Ordinal);
        foreach (var wait in input.Waits)
        {
            var text = KeyText.Printable(wait.Key);
            if (!waitsByKey.TryGetValue(text, out var list))
            {
                waitsByKey[text] = list = [];
            }

            list.Add(wait);
        }

        var groups = new List<RendezvousGroup>();
        var ranks = new Dictionary<long, ConnectionRank>();
        DecodeRankKeys(input, present, keyBytes, waitsByKey, groups, ranks);
        DecodeStoreBarriers(input, present, keyBytes, waitsByKey, groups, ranks);
        DecodeElasticBarriers(input, present, keyBytes, waitsByKey, groups, ranks);
        DecodeSingles(input, present, keyBytes, groups);
        groups.Sort((a, b) => a.Complete != b.Complete ? a.Complete.CompareTo(b.Complete) : string.CompareOrdinal(a.Name, b.Name));
        return new RendezvousReport(groups, ranks);
    }

    // gloo (and NCCL's id exchange, and torchelastic's synchronize/get_all): every rank SETs
    // <prefix>/<rank> and WAITs for the others' keys.
    private static void DecodeRankKeys(
        RendezvousInput input,
        HashSet<string> present,
        Dictionary<string, byte[]> keyBytes,
        Dictionary<string, List<InspectedWait>> waitsByKey,
        List<RendezvousGroup> groups,
        Dictionary<long, ConnectionRank> ranks)
    {
        var presentByPrefix = new Dictionary<string, SortedDictionary<int, string>>(StringComparer.Ordinal);
        var awaitedByPrefix = new Dictionary<string, SortedSet<int>>(StringComparer.Ordinal);
        foreach (var key in present)
        {
            if (SplitRankKey(key, out var prefix, out var rank))
            {
                Get(presentByPrefix, prefix)[rank] = key;
            }
        }

        foreach (var key in waitsByKey.Keys)
        {
            if (SplitRankKey(key, out var prefix, out var rank))
            {
                if (!awaitedByPrefix.TryGetValue(prefix, out var set))
                {
                    awaitedByPrefix[prefix] = set = [];
                }

                set.Add(rank);
            }
        }

        var hashToRank = new Dictionary<int, ConnectionRank>();
        foreach (var prefix in presentByPrefix.Keys.Union(awaitedByPrefix.Keys).Order(StringComparer.Ordinal))
        {
            var have = presentByPrefix.GetValueOrDefault(prefix) ?? [];
            var awaited = awaitedByPrefix.GetValueOrDefault(prefix);
            if (awaited is null && have.Count < 2)
            {
                continue; // one stray key ending in a digit is not a rendezvous
            }

            var name = DisplayName(prefix.TrimEnd('/'));
            int? world = input.WorldSize;
            string? source = world is null ? null : "operator";
            if (world is null)
            {
                world = WorldFromGlooValues(input, have.Values, keyBytes);
                source = world is null ? null : "gloo rank value";
            }

            foreach (var (rank, key) in have)
            {
                var group = new ConnectionRank(name, rank);
                hashToRank[SessionStats.RankKeyHash(keyBytes[key])] = group;
            }

            var presentRanks = have.Keys.ToList();
            List<int> missing;
            bool laterUnknown;
            if (world is int w)
            {
                missing = [.. Enumerable.Range(0, w).Where(r => !have.ContainsKey(r))];
                laterUnknown = false;
            }
            else
            {
                var highest = Math.Max(presentRanks.Count > 0 ? presentRanks[^1] : -1, awaited?.Max ?? -1);
                missing = [.. Enumerable.Range(0, highest + 1).Where(r => !have.ContainsKey(r))];
                laterUnknown = true;
            }

            var waits = WaitsOn(waitsByKey, k => SplitRankKey(k, out var p, out _) && p == prefix);
            var (waiting, oldest) = WaitStats(waits, input.NowTicks);
            var complete = world is not null && missing.Count == 0;
            var text = new StringBuilder(name).Append(": ");
            text.Append(presentRanks.Count);
            text.Append(world is int known ? $" of {known} ranks present" : " ranks present (world size unknown)");
            AppendMissing(text, missing, laterUnknown);
            AppendWaiting(text, waiting, oldest);
            groups.Add(new RendezvousGroup(
                RendezvousKinds.RankKeys, name, world, source, presentRanks.Count, presentRanks, missing,
                world is int m ? m - presentRanks.Count : null, laterUnknown, complete, waiting, oldest, text.ToString()));
        }

        foreach (var (connection, hash) in input.RankKeyHashes)
        {
            if (hash != 0 && hashToRank.TryGetValue(hash, out var rank))
            {
                ranks[connection] = rank;
            }
        }
    }

    // distributed_c10d._store_based_barrier: ADD store_based_barrier_key:<group> 1, the rank that
    // makes the count reach the world size SETs <key>:last_worker, everyone WAITs for it.
    private static void DecodeStoreBarriers(
        RendezvousInput input,
        HashSet<string> present,
        Dictionary<string, byte[]> keyBytes,
        Dictionary<string, List<InspectedWait>> waitsByKey,
        List<RendezvousGroup> groups,
        Dictionary<long, ConnectionRank> ranks)
    {
        var counters = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var key in present.Concat(waitsByKey.Keys))
        {
            if (key.Contains(BarrierMarker, StringComparison.Ordinal))
            {
                counters.Add(key.EndsWith(LastWorker, StringComparison.Ordinal) ? key[..^LastWorker.Length] : key);
            }
        }

        foreach (var counter in counters)
        {
            var release = counter + LastWorker;
            var arrived = ReadCount(input, keyBytes, counter);
            var waits = WaitsOn(waitsByKey, k => k == release);
            groups.Add(Barrier(RendezvousKinds.StoreBarrier, DisplayName(counter), input, arrived, present.Contains(release), waits, [], [], ranks));
        }
    }

    // torch.distributed.elastic.utils.store.barrier: ADD <prefix>/num_members 1, the last member
    // SETs <prefix>/last_member, all WAIT for it; on a timeout with ranks given, each SETs
    // <prefix><rank>/TRACE and rank 0 WAITs for the others' trace keys, then SETs <prefix>/TRACING_GATE.
    private static void DecodeElasticBarriers(
        RendezvousInput input,
        HashSet<string> present,
        Dictionary<string, byte[]> keyBytes,
        Dictionary<string, List<InspectedWait>> waitsByKey,
        List<RendezvousGroup> groups,
        Dictionary<long, ConnectionRank> ranks)
    {
        var prefixes = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var key in present.Concat(waitsByKey.Keys))
        {
            if (key.EndsWith(NumMembers, StringComparison.Ordinal))
            {
                prefixes.Add(key[..^NumMembers.Length]);
            }
            else if (key.EndsWith(LastMember, StringComparison.Ordinal))
            {
                prefixes.Add(key[..^LastMember.Length]);
            }
        }

        foreach (var prefix in prefixes)
        {
            var arrived = ReadCount(input, keyBytes, prefix + NumMembers);
            var traced = new SortedSet<int>();
            var traceAwaited = new SortedSet<int>();
            foreach (var key in present)
            {
                if (TraceRank(key, prefix) is int r)
                {
                    traced.Add(r);
                }
            }

            foreach (var key in waitsByKey.Keys)
            {
                if (TraceRank(key, prefix) is int r)
                {
                    traceAwaited.Add(r);
                }
            }

            var waits = WaitsOn(waitsByKey, k => k == prefix + LastMember || k == prefix + TracingGate || TraceRank(k, prefix) is not null);
            groups.Add(Barrier(RendezvousKinds.ElasticBarrier, DisplayName(prefix), input, arrived, present.Contains(prefix + LastMember), waits, traced, traceAwaited, ranks));
        }
    }

    // A barrier's arrivals are anonymous (a counter). Ranks are named only from what is certain:
    // trace keys, or the ranks of the waiting connections when every arrival is accounted for.
    private static RendezvousGroup Barrier(
        string kind,
        string name,
        RendezvousInput input,
        int arrived,
        bool released,
        List<InspectedWait> waits,
        SortedSet<int> traced,
        SortedSet<int> traceAwaited,
        Dictionary<long, ConnectionRank> ranks)
    {
        var (waiting, oldest) = WaitStats(waits, input.NowTicks);
        var known = new SortedSet<int>(traced);
        var anonymousWaiters = 0;
        foreach (var connection in waits.Select(w => w.ConnectionId).Distinct())
        {
            if (ranks.TryGetValue(connection, out var rank))
            {
                known.Add(rank.Rank);
            }
            else
            {
                anonymousWaiters++;
            }
        }

        var world = input.WorldSize;
        List<int> missing;
        var laterUnknown = world is null;
        if (released)
        {
            missing = [];
        }
        else if (world is int w && known.Count > 0 && known.Count >= arrived && (anonymousWaiters == 0 || traced.Count >= arrived))
        {
            missing = [.. Enumerable.Range(0, w).Where(r => !known.Contains(r))];
        }
        else
        {
            missing = [.. traceAwaited.Where(r => !known.Contains(r))];
        }

        var text = new StringBuilder(name).Append(": ");
        if (released)
        {
            text.Append("released, ").Append(arrived).Append(" arrived");
        }
        else
        {
            text.Append(arrived).Append(world is int ww ? $" of {ww} arrived" : " arrived (world size unknown)");
            if (missing.Count > 0)
            {
                AppendMissing(text, missing, laterUnknown: false);
            }
            else if (world is int www && www > arrived)
            {
                text.Append(", ").Append(www - arrived).Append(" missing (barrier arrivals are anonymous)");
            }
        }

        AppendWaiting(text, waiting, oldest);
        return new RendezvousGroup(
            kind, name, world, world is null ? null : "operator", arrived, [.. known], missing,
            released ? 0 : world is int m ? Math.Max(0, m - arrived) : null, laterUnknown && !released, released, waiting, oldest, text.ToString());
    }

    // torchrun's state key (size and compare-and-set count only: the value is a pickle and is never
    // decoded) and the client's init/ counter.
    private static void DecodeSingles(RendezvousInput input, HashSet<string> present, Dictionary<string, byte[]> keyBytes, List<RendezvousGroup> groups)
    {
        foreach (var key in present.Order(StringComparer.Ordinal))
        {
            var raw = keyBytes[key];
            if (SessionStats.IsRendezvousStateKey(raw))
            {
                var size = input.ReadValue(raw)?.Length ?? 0;
                var text = $"{DisplayName(key)}: state {size} B, compare-and-set {input.RendezvousCompareSets} times (all run ids)";
                groups.Add(new RendezvousGroup(RendezvousKinds.TorchrunState, DisplayName(key), null, null, 0, [], [], null, false, true, 0, 0, text));
            }
            else if (key == "init/")
            {
                var count = ReadCount(input, keyBytes, key);
                var world = input.WorldSize;
                var text = world is int w ? $"init/: {count} of {w} clients checked in" : $"init/: {count} clients checked in";
                groups.Add(new RendezvousGroup(RendezvousKinds.ClientInit, key, world, world is null ? null : "operator", count, [], [], world is int m ? Math.Max(0, m - count) : null, world is null, world is not int c || count >= c, 0, 0, text));
            }
        }
    }

    /// <summary>Whether a key can belong to any convention this decoder knows (a cheap byte test).</summary>
    public static bool MayMatter(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            return false;
        }

        var digits = key.Length - 1;
        while (digits >= 0 && key[digits] is >= (byte)'0' and <= (byte)'9')
        {
            digits--;
        }

        if (digits < key.Length - 1 && digits >= 0 && key[digits] == (byte)'/')
        {
            return true; // <prefix>/<rank>
        }

        return key.EndsWith("/num_members"u8) || key.EndsWith("/last_member"u8) || key.EndsWith("/TRACE"u8)
            || key.EndsWith("/TRACING_GATE"u8) || key.EndsWith(":last_worker"u8) || key.IndexOf("store_based_barrier_key:"u8) >= 0
            || SessionStats.IsRendezvousStateKey(key) || key.SequenceEqual("init/"u8);
    }

    /// <summary>Splits <c>&lt;prefix&gt;/&lt;rank&gt;</c>; the prefix keeps its trailing slash.</summary>
    public static bool SplitRankKey(string key, out string prefix, out int rank)
    {
        prefix = string.Empty;
        rank = -1;
        var slash = key.LastIndexOf('/');
        if (slash < 0 || slash == key.Length - 1)
        {
            return false;
        }

        var digits = key.AsSpan(slash + 1);
        if (digits.Length > 9 || (digits.Length > 1 && digits[0] == '0'))
        {
            return false;
        }

        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        prefix = key[..(slash + 1)];
        rank = int.Parse(digits, CultureInfo.InvariantCulture);
        return true;
    }

    private static int? TraceRank(string key, string prefix)
    {
        if (!key.StartsWith(prefix, StringComparison.Ordinal) || !key.EndsWith(Trace, StringComparison.Ordinal))
        {
            return null;
        }

        var digits = key.AsSpan(prefix.Length, key.Length - prefix.Length - Trace.Length);
        return digits.Length is > 0 and <= 9 && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r : null;
    }

    private static int? WorldFromGlooValues(RendezvousInput input, IEnumerable<string> keys, Dictionary<string, byte[]> keyBytes)
    {
        int? world = null;
        foreach (var key in keys)
        {
            if (input.ReadValue(keyBytes[key]) is not { } value)
            {
                continue;
            }

            if (GlooRankValue.WorldSize(value) is not int size)
            {
                return null; // not all gloo values: say nothing
            }

            if (world is not null && world != size)
            {
                return null; // disagreeing values: no world size
            }

            world = size;
        }

        return world;
    }

    private static int ReadCount(RendezvousInput input, Dictionary<string, byte[]> keyBytes, string key)
    {
        if (!keyBytes.TryGetValue(key, out var raw) || input.ReadValue(raw) is not { } value)
        {
            return 0;
        }

        return int.TryParse(Encoding.ASCII.GetString(value).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    private static List<InspectedWait> WaitsOn(Dictionary<string, List<InspectedWait>> waitsByKey, Func<string, bool> match)
    {
        var result = new List<InspectedWait>();
        foreach (var (key, waits) in waitsByKey)
        {
            if (match(key))
            {
                result.AddRange(waits);
            }
        }

        return result;
    }

    private static (int Connections, double OldestSeconds) WaitStats(List<InspectedWait> waits, long now)
    {
        if (waits.Count == 0)
        {
            return (0, 0);
        }

        var connections = waits.Select(w => w.ConnectionId).Distinct().Count();
        var oldest = waits.Min(w => w.SinceTicks);
        return (connections, Math.Max(0, now - oldest) / 1000.0);
    }

    private static void AppendMissing(StringBuilder text, List<int> missing, bool laterUnknown)
    {
        if (missing.Count > 0)
        {
            text.Append(laterUnknown ? ", certainly missing " : ", missing ").Append(RankList(missing));
        }

        if (laterUnknown)
        {
            text.Append(missing.Count > 0 ? "; later ranks unknown" : ", later ranks unknown");
        }
    }

    private static void AppendWaiting(StringBuilder text, int waiting, double oldest)
    {
        if (waiting > 0)
        {
            text.Append("; ").Append(waiting).Append(waiting == 1 ? " connection waiting" : " connections waiting");
            text.Append(", oldest ").Append(Math.Round(oldest).ToString(CultureInfo.InvariantCulture)).Append(" s");
        }
    }

    /// <summary>Ranks as "0, 2, 5-9": ranges shorten the line for large jobs.</summary>
    public static string RankList(IEnumerable<int> ranks)
    {
        var parts = new List<string>();
        var sorted = ranks.Order().ToList();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j + 1 < sorted.Count && sorted[j + 1] == sorted[j] + 1)
            {
                j++;
            }

            parts.Add(j - i >= 2 ? $"{sorted[i]}-{sorted[j]}" : sorted[i].ToString(CultureInfo.InvariantCulture));
            if (j - i == 1)
            {
                parts.Add(sorted[j].ToString(CultureInfo.InvariantCulture));
            }

            i = j + 1;
        }

        return string.Join(", ", parts);
    }

    // PyTorch's client puts '/' before every key but init/; drop it for display.
    private static string DisplayName(string key) => key.Length > 1 && key[0] == '/' ? key[1..] : key;

    private static SortedDictionary<int, string> Get(Dictionary<string, SortedDictionary<int, string>> map, string prefix)
    {
        if (!map.TryGetValue(prefix, out var value))
        {
            map[prefix] = value = [];
        }

        return value;
    }
}
