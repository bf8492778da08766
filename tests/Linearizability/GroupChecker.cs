using System.Text;

namespace TcpStore.Tests.Linearizability;

/// <summary>
/// An exact linearizability check for a small group of keys that multi-key operations span: a
/// search for one total order of the group's operations that respects real time and that a
/// sequential store accepts reply for reply (Wing and Gong's algorithm, with Lowe's memo of visited
/// configurations). This is what catches a multi-shard step that is not atomic: a MULTI_GET that sees
/// half of a MULTI_SET, a CHECK that sees two keys present that never were at the same time, a
/// DELETE that reports a key that was already gone.
/// </summary>
/// <remarks>
/// The search is exponential in the worst case, but its width is the number of operations that
/// overlap in time (the clients, here under ten), and the memo makes each configuration of "which
/// operations are done, what the keys hold" be visited once; a budget turns a pathological history
/// into a reported failure rather than a hung test.
/// <para>
/// A WAIT is not one atomic step: it checks and registers at one point and is released later by the
/// write that completes it. It is modelled as two steps inside its interval: registration, which
/// records the keys that were missing then, and release, which is allowed once each of those keys has
/// been written (set, multi-set) since; a DELETE does not undo that (waiters stay registered).
/// </para>
/// </remarks>
public static class GroupChecker
{
    /// <summary>Configurations the search may visit before it gives up.</summary>
    public const int DefaultBudget = 500_000;

    /// <summary>Adds to <paramref name="errors"/> why the group's history has no linearization, if it has none.</summary>
    public static void Check(string group, IReadOnlyList<Op> ops, List<string> errors, int budget = DefaultBudget)
    {
        var members = ops.SelectMany(o => o.WireKeys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (members.Count > 30)
        {
            errors.Add($"{group}: {members.Count} keys is too many for one group");
            return;
        }

        var index = members.Select((k, i) => (k, i)).ToDictionary(p => p.k, p => p.i, StringComparer.Ordinal);
        var steps = new List<Step>();
        var waits = 0;
        foreach (var op in ops)
        {
            var keys = op.WireKeys.Select(k => index[k]).ToArray();
            if (op.Kind == OpKind.Wait)
            {
                steps.Add(new Step(op, StepKind.Register, keys, waits));
                steps.Add(new Step(op, StepKind.Release, keys, waits));
                waits++;
            }
            else
            {
                steps.Add(new Step(op, StepKind.Apply, keys, -1));
            }
        }

        steps.Sort((a, b) => a.Op.Invoked.CompareTo(b.Op.Invoked));
        var search = new Search([.. steps], budget);
        var initial = new State(new string?[members.Count], []);
        if (search.Run(initial))
        {
            return;
        }

        var message = new StringBuilder(search.GaveUp
            ? $"{group}: gave up after {budget} configurations (history too concurrent to decide)"
            : $"{group}: no linearization of {ops.Count} operations; at most {search.Deepest} of {steps.Count} steps could be ordered. Next candidates there:");
        foreach (var stuck in search.StuckAt.Take(8))
        {
            message.Append("\n  ").Append(stuck.Kind == StepKind.Apply ? string.Empty : $"{stuck.Kind} of ").Append(stuck.Op.Describe());
        }

        errors.Add(message.ToString());
    }

    private enum StepKind
    {
        Apply,
        Register,
        Release,
    }

    private sealed record Step(Op Op, StepKind Kind, int[] Keys, int Wait);

    /// <summary>Key values (null: missing) and the pending WAITs with the bit mask of keys each still needs.</summary>
    private sealed record State(string?[] Values, (int Wait, int Missing)[] Pending)
    {
        public string Encode()
        {
            var text = new StringBuilder();
            foreach (var value in Values)
            {
                text.Append(value ?? "\u0001").Append('\u0000');
            }

            foreach (var (wait, missing) in Pending.OrderBy(p => p.Wait))
            {
                text.Append(wait).Append(':').Append(missing).Append(';');
            }

            return text.ToString();
        }

        public State Write(int key, string value)
        {
            var values = (string?[])Values.Clone();
            values[key] = value;
            return new State(values, [.. Pending.Select(p => (p.Wait, p.Missing & ~(1 << key)))]);
        }

        public State Remove(int key)
        {
            var values = (string?[])Values.Clone();
            values[key] = null;
            return this with { Values = values };
        }

        // The next state if the step can take effect here with the results it reported, else null.
        public State? Apply(Step step)
        {
            var op = step.Op;
            switch (step.Kind)
            {
                case StepKind.Register:
                    var missing = step.Keys.Where(k => Values[k] is null).Aggregate(0, (mask, k) => mask | (1 << k));
                    return this with { Pending = [.. Pending, (step.Wait, missing)] };
                case StepKind.Release:
                    return Pending.Any(p => p.Wait == step.Wait && p.Missing == 0)
                        ? this with { Pending = [.. Pending.Where(p => p.Wait != step.Wait)] }
                        : null;
            }

            switch (op.Kind)
            {
                case OpKind.Set:
                    return Write(step.Keys[0], op.Argument);
                case OpKind.MultiSet:
                    var state = this;
                    for (var i = 0; i < step.Keys.Length; i++)
                    {
                        state = state.Write(step.Keys[i], op.Values[i]);
                    }

                    return state;
                case OpKind.Delete:
                    var present = Values[step.Keys[0]] is not null;
                    return op.Result == (present ? "1" : "0") ? Remove(step.Keys[0]) : null;
                case OpKind.Get:
                    return (Values[step.Keys[0]] ?? string.Empty) == op.Result ? this : null;
                case OpKind.MultiGet:
                    for (var i = 0; i < step.Keys.Length; i++)
                    {
                        if ((Values[step.Keys[i]] ?? string.Empty) != op.Values[i])
                        {
                            return null;
                        }
                    }

                    return this;
                case OpKind.Check:
                    var ready = step.Keys.All(k => Values[k] is not null);
                    return op.Result == (ready ? "1" : "0") ? this : null;
                default:
                    throw new InvalidOperationException($"{op.Kind} is not modelled in key groups");
            }
        }
    }

    private sealed class Search(Step[] steps, int budget)
    {
        private readonly bool[] _done = new bool[steps.Length];
        private readonly HashSet<string> _seen = new(StringComparer.Ordinal);
        private int _doneCount;

        public int Deepest { get; private set; } = -1;

        public List<Step> StuckAt { get; private set; } = [];

        public bool GaveUp { get; private set; }

        public bool Run(State initial) => Visit(initial, 0);

        private bool Visit(State state, int first)
        {
            if (_doneCount == steps.Length)
            {
                return true;
            }

            while (_done[first])
            {
                first++;
            }

            // A step may go next only if no other pending step returned before it was invoked.
            var earliestReturn = long.MaxValue;
            for (var i = first; i < steps.Length && steps[i].Op.Invoked <= earliestReturn; i++)
            {
                if (!_done[i])
                {
                    earliestReturn = Math.Min(earliestReturn, steps[i].Op.Returned);
                }
            }

            var candidates = new List<int>();
            for (var i = first; i < steps.Length && steps[i].Op.Invoked <= earliestReturn; i++)
            {
                if (!_done[i])
                {
                    candidates.Add(i);
                }
            }

            if (_doneCount > Deepest)
            {
                Deepest = _doneCount;
                StuckAt = [.. candidates.Select(i => steps[i])];
            }

            foreach (var i in candidates)
            {
                if (state.Apply(steps[i]) is not { } next)
                {
                    continue;
                }

                _done[i] = true;
                _doneCount++;
                if (_seen.Add(DoneKey() + next.Encode()))
                {
                    if (_seen.Count > budget)
                    {
                        GaveUp = true;
                        return false;
                    }

                    if (Visit(next, first))
                    {
                        return true;
                    }

                    if (GaveUp)
                    {
                        return false;
                    }
                }

                _done[i] = false;
                _doneCount--;
            }

            return false;
        }

        private string DoneKey()
        {
            var text = new StringBuilder(_done.Length / 4 + 2);
            for (var i = 0; i < _done.Length; i += 15)
            {
                var chunk = 0;
                for (var j = i; j < Math.Min(i + 15, _done.Length); j++)
                {
                    chunk = (chunk << 1) | (_done[j] ? 1 : 0);
                }

                text.Append((char)(chunk + 1));
            }

            return text.Append('|').ToString();
        }
    }
}
