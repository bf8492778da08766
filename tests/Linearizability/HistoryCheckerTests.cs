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

    private static Op Add(int client, string delta, string result, long invoked, long returned)
        => new(client, OpKind.Add, "/lin/ctr/0", delta, string.Empty, result, invoked, returned);
}
