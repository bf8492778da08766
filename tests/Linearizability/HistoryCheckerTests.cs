namespace TcpStore.Tests.Linearizability;

/// <summary>The checker must reject histories with each kind of anomaly it claims to detect.</summary>
public sealed class HistoryCheckerTests
{
    private static readonly Dictionary<string, string> NoFinal = [];

    [Fact]
    public void Consistent_counter_history_passes()
    {
        Op[] history = [Add(0, "1", "1", 0, 10), Add(1, "2", "3", 5, 20)];
        Assert.Empty(HistoryChecker.Check(history, new Dictionary<string, string> { ["/lin/ctr/0"] = "3" }));
    }

    [Fact]
    public void Lost_add_is_detected()
    {
        Op[] history = [Add(0, "1", "1", 0, 10), Add(1, "2", "2", 5, 20)];
        Assert.NotEmpty(HistoryChecker.Check(history, new Dictionary<string, string> { ["/lin/ctr/0"] = "2" }));
    }

    [Fact]
    public void Add_results_against_real_time_order_are_detected()
    {
        Op[] history = [Add(0, "1", "2", 30, 40), Add(1, "1", "1", 50, 60)];
        Assert.NotEmpty(HistoryChecker.Check(history, new Dictionary<string, string> { ["/lin/ctr/0"] = "2" }));
    }

    [Fact]
    public void Two_compare_set_winners_for_one_expected_value_are_detected()
    {
        Op[] history =
        [
            new(0, OpKind.CompareSet, "/lin/cas/0", "0:init:0", "1:0:0", "1:0:0", 0, 10),
            new(1, OpKind.CompareSet, "/lin/cas/0", "0:init:0", "1:1:0", "1:1:0", 0, 10),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, new Dictionary<string, string> { ["/lin/cas/0"] = "1:1:0" }));
    }

    [Fact]
    public void Stale_register_read_is_detected()
    {
        var a = string.Join('-', Enumerable.Repeat("c0s0", 8));
        var b = string.Join('-', Enumerable.Repeat("c0s1", 8));
        Op[] history =
        [
            new(0, OpKind.Set, "/lin/reg/0", a, string.Empty, string.Empty, 0, 10),
            new(0, OpKind.Set, "/lin/reg/0", b, string.Empty, string.Empty, 20, 30),
            new(1, OpKind.Get, "/lin/reg/0", string.Empty, string.Empty, a, 40, 50),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Torn_register_read_is_detected()
    {
        var a = string.Join('-', Enumerable.Repeat("c0s0", 8));
        Op[] history =
        [
            new(0, OpKind.Set, "/lin/reg/0", a, string.Empty, string.Empty, 0, 10),
            new(1, OpKind.Get, "/lin/reg/0", string.Empty, string.Empty, a[..20], 5, 50),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Lost_append_is_detected()
    {
        Op[] history =
        [
            new(0, OpKind.Append, "/lin/log/0", "[0.0]", string.Empty, string.Empty, 0, 10),
            new(1, OpKind.Append, "/lin/log/0", "[1.0]", string.Empty, string.Empty, 0, 10),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, new Dictionary<string, string> { ["/lin/log/0"] = "[1.0]" }));
    }

    [Fact]
    public void Wait_released_before_the_key_was_set_is_detected()
    {
        Op[] history =
        [
            new(0, OpKind.Wait, "/lin/wait/0", string.Empty, string.Empty, string.Empty, 0, 10),
            new(1, OpKind.Set, "/lin/wait/0", "set", string.Empty, string.Empty, 20, 30),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Multi_key_wait_released_before_its_second_key_was_set_is_detected()
    {
        Op[] history =
        [
            new(2, OpKind.Set, "/lin/wait/0", "set", string.Empty, string.Empty, 0, 5),
            new(0, OpKind.Wait, "/lin/wait/", string.Empty, string.Empty, string.Empty, 0, 10) { Keys = ["/lin/wait/0", "/lin/wait/1"] },
            new(2, OpKind.Set, "/lin/wait/1", "set", string.Empty, string.Empty, 20, 30),
        ];
        Assert.Single(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Multi_key_check_answering_not_ready_after_every_key_was_set_is_detected()
    {
        Op[] history =
        [
            new(2, OpKind.Set, "/lin/wait/0", "set", string.Empty, string.Empty, 0, 5),
            new(2, OpKind.Set, "/lin/wait/1", "set", string.Empty, string.Empty, 6, 9),
            new(0, OpKind.Check, "/lin/wait/", string.Empty, string.Empty, "0", 10, 20) { Keys = ["/lin/wait/0", "/lin/wait/1"] },
            new(1, OpKind.Check, "/lin/wait/", string.Empty, string.Empty, "1", 10, 20) { Keys = ["/lin/wait/0", "/lin/wait/1"] },
        ];
        Assert.Single(HistoryChecker.Check(history, NoFinal));
    }

    [Theory]
    [InlineData("x", "x", true)]
    [InlineData("y", "y", true)]
    [InlineData("y", "x", false)]
    [InlineData("x", "y", false)]
    public void Multi_get_must_see_a_multi_set_whole_or_not_at_all(string a, string b, bool consistent)
    {
        Op[] history =
        [
            GroupMultiSet(0, "x", 0, 10),
            GroupMultiSet(1, "y", 20, 40),
            new(2, OpKind.MultiGet, Group, string.Empty, string.Empty, string.Empty, 25, 30) { Keys = ["a", "b"], Values = [a, b] },
        ];
        Assert.Equal(consistent, HistoryChecker.Check(history, NoFinal).Count == 0);
    }

    [Fact]
    public void Multi_get_reading_a_value_that_was_overwritten_before_it_began_is_detected()
    {
        Op[] history =
        [
            GroupMultiSet(0, "x", 0, 10),
            GroupMultiSet(1, "y", 20, 30),
            new(2, OpKind.MultiGet, Group, string.Empty, string.Empty, string.Empty, 40, 50) { Keys = ["b", "a"], Values = ["x", "x"] },
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Check_seeing_two_keys_that_were_never_present_together_is_detected()
    {
        Op[] consistent =
        [
            GroupOp(0, OpKind.Set, "a", "1", string.Empty, 0, 10),
            GroupOp(0, OpKind.Delete, "a", string.Empty, "1", 20, 30),
            GroupOp(1, OpKind.Set, "b", "2", string.Empty, 40, 50),
            new(2, OpKind.Check, Group, string.Empty, string.Empty, "0", 60, 70) { Keys = ["a", "b"] },
        ];
        Assert.Empty(HistoryChecker.Check(consistent, NoFinal));
        Op[] broken = [.. consistent[..3], consistent[3] with { Result = "1" }];
        Assert.NotEmpty(HistoryChecker.Check(broken, NoFinal));
    }

    [Fact]
    public void Delete_reporting_a_key_that_was_already_deleted_is_detected()
    {
        Op[] history =
        [
            GroupOp(0, OpKind.Set, "a", "1", string.Empty, 0, 10),
            GroupOp(0, OpKind.Delete, "a", string.Empty, "1", 20, 30),
            GroupOp(1, OpKind.Delete, "a", string.Empty, "1", 40, 50),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
        Assert.Empty(HistoryChecker.Check([.. history[..2], history[2] with { Result = "0" }], NoFinal));
    }

    [Fact]
    public void Concurrent_deletes_may_not_both_remove_the_key()
    {
        Op[] history =
        [
            GroupOp(0, OpKind.Set, "a", "1", string.Empty, 0, 10),
            GroupOp(1, OpKind.Delete, "a", string.Empty, "1", 20, 30),
            GroupOp(2, OpKind.Delete, "a", string.Empty, "1", 20, 30),
        ];
        Assert.NotEmpty(HistoryChecker.Check(history, NoFinal));
    }

    [Fact]
    public void Group_wait_must_be_released_by_writes_of_every_key_it_found_missing()
    {
        // WAIT on a and b, both missing; only a is ever written, yet the WAIT returned.
        Op[] broken =
        [
            new(0, OpKind.Wait, Group, string.Empty, string.Empty, string.Empty, 0, 30) { Keys = ["a", "b"] },
            GroupOp(1, OpKind.Set, "a", "1", string.Empty, 10, 20),
            new(2, OpKind.Check, Group, string.Empty, string.Empty, "0", 40, 50) { Keys = ["b"] },
        ];
        Assert.NotEmpty(HistoryChecker.Check(broken, NoFinal));

        // Released by a later write of b, even though a was deleted again meanwhile (waiters stay registered).
        Op[] consistent =
        [
            new(0, OpKind.Wait, Group, string.Empty, string.Empty, string.Empty, 0, 60) { Keys = ["a", "b"] },
            GroupOp(1, OpKind.Set, "a", "1", string.Empty, 10, 20),
            GroupOp(1, OpKind.Delete, "a", string.Empty, "1", 25, 30),
            GroupOp(1, OpKind.Set, "b", "2", string.Empty, 40, 50),
        ];
        Assert.Empty(HistoryChecker.Check(consistent, NoFinal));
    }

    private const string Group = "/lin/grp/t";

    private static Op GroupMultiSet(int client, string value, long invoked, long returned)
        => new(client, OpKind.MultiSet, Group, string.Empty, string.Empty, string.Empty, invoked, returned) { Keys = ["a", "b"], Values = [value, value] };

    private static Op GroupOp(int client, OpKind kind, string key, string argument, string result, long invoked, long returned)
        => new(client, kind, Group, argument, string.Empty, result, invoked, returned) { Keys = [key] };

    private static Op Add(int client, string delta, string result, long invoked, long returned)
        => new(client, OpKind.Add, "/lin/ctr/0", delta, string.Empty, result, invoked, returned);
}
