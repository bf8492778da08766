using TcpStore.Codec;
using TcpStore.Tests.Support;
using static TcpStore.Tests.Support.Replies;

namespace TcpStore.Tests.Server;

/// <summary>Each query type over a real socket, checked byte for byte (PROTOCOL.md §2-§3).</summary>
public sealed class QueryReplyTests
{
    private const uint Sentinel = 0x5EA1ED00;

    private static byte[] K(string text) => RawClient.Key(text);

    private static readonly Dictionary<string, (WireRequest[] Requests, byte[] Replies)> Cases = new()
    {
        ["VALIDATE and SET have no reply"] = ([WireRequest.KeyValue(QueryType.Set, K("k"), K("v"))], []),
        ["PING echoes its nonce"] = ([WireRequest.Ping(0xDEADBEEF)], [0xEF, 0xBE, 0xAD, 0xDE]),
        ["GET of a present key"] = ([WireRequest.KeyValue(QueryType.Set, K("k"), K("hello")), WireRequest.KeyOnly(QueryType.Get, K("k"))], Blob("hello")),
        ["GET of a missing key is an empty value"] = ([WireRequest.KeyOnly(QueryType.Get, K("nope"))], Int64(0)),
        ["ADD creates, then parses like stoll"] = (
            [WireRequest.Add(K("n"), 5), WireRequest.KeyValue(QueryType.Set, K("t"), K(" 12abc")), WireRequest.Add(K("t"), 1), WireRequest.KeyOnly(QueryType.Get, K("t")), WireRequest.Add(K("n"), -7), WireRequest.KeyOnly(QueryType.Get, K("n"))],
            Concat(Int64(5), Int64(13), Blob("13"), Int64(-2), Blob("-2"))),
        ["ADD wraps on overflow"] = ([WireRequest.Add(K("w"), long.MaxValue), WireRequest.Add(K("w"), 1)], Concat(Int64(long.MaxValue), Int64(long.MinValue))),
        ["COMPARE_SET: missing, expected empty stores desired"] = (
            [WireRequest.CompareSet(K("c"), [], K("made")), WireRequest.KeyOnly(QueryType.Get, K("c"))], Concat(Blob("made"), Blob("made"))),
        ["COMPARE_SET: missing, expected non-empty returns expected and stores nothing"] = (
            [WireRequest.CompareSet(K("c"), K("exp"), K("des")), WireRequest.Bare(QueryType.GetNumKeys)], Concat(Blob("exp"), Int64(0))),
        ["COMPARE_SET: match replaces"] = (
            [WireRequest.KeyValue(QueryType.Set, K("c"), K("old")), WireRequest.CompareSet(K("c"), K("old"), K("new")), WireRequest.KeyOnly(QueryType.Get, K("c"))],
            Concat(Blob("new"), Blob("new"))),
        ["COMPARE_SET: mismatch returns current"] = (
            [WireRequest.KeyValue(QueryType.Set, K("c"), K("cur")), WireRequest.CompareSet(K("c"), K("x"), K("y"))], Blob("cur")),
        ["COMPARE_SET: empty equals empty"] = (
            [WireRequest.KeyValue(QueryType.Set, K("c"), []), WireRequest.CompareSet(K("c"), [], K("z"))], Blob("z")),
        ["CHECK ready, not ready, empty list"] = (
            [WireRequest.KeyValue(QueryType.Set, K("a"), K("1")), WireRequest.Multi(QueryType.Check, [K("a")]), WireRequest.Multi(QueryType.Check, [K("a"), K("b")]), WireRequest.Multi(QueryType.Check, [])],
            [Protocol.CheckReady, Protocol.CheckNotReady, Protocol.CheckReady]),
        ["WAIT on present keys replies at once"] = (
            [WireRequest.KeyValue(QueryType.Set, K("a"), K("1")), WireRequest.Multi(QueryType.Wait, [K("a"), K("a")])], StopWaiting),
        ["GETNUMKEYS counts map keys, not queues"] = (
            [WireRequest.KeyValue(QueryType.Set, K("a"), K("1")), WireRequest.KeyValue(QueryType.Set, K("b"), K("2")), WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("x")), WireRequest.Bare(QueryType.GetNumKeys)],
            Int64(2)),
        ["DELETE_KEY replies 1 then 0"] = (
            [WireRequest.KeyValue(QueryType.Set, K("d"), K("1")), WireRequest.KeyOnly(QueryType.DeleteKey, K("d")), WireRequest.KeyOnly(QueryType.DeleteKey, K("d"))], Concat(Int64(1), Int64(0))),
        ["APPEND creates and concatenates"] = (
            [WireRequest.KeyValue(QueryType.Append, K("p"), K("ab")), WireRequest.KeyValue(QueryType.Append, K("p"), K("cd")), WireRequest.KeyOnly(QueryType.Get, K("p"))], Blob("abcd")),
        ["MULTI_SET then MULTI_GET in request order, missing as empty"] = (
            [WireRequest.MultiSet([K("m1"), K("m2")], [K("v1"), []]), WireRequest.Multi(QueryType.MultiGet, [K("m2"), K("zz"), K("m1")])],
            Concat(Blob(""), Blob(""), Blob("v1"))),
        ["CANCEL_WAIT with nothing pending"] = ([WireRequest.Bare(QueryType.CancelWait)], WaitCanceled),
        ["QUEUE_PUSH, QUEUE_LEN, QUEUE_POP report the length before the pop"] = (
            [WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("a1")), WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("a2")), WireRequest.KeyOnly(QueryType.QueueLength, K("q")),
             WireRequest.KeyOnly(QueryType.QueuePop, K("q")), WireRequest.KeyOnly(QueryType.QueuePop, K("q")), WireRequest.KeyOnly(QueryType.QueuePop, K("q")), WireRequest.KeyOnly(QueryType.QueueLength, K("q"))],
            Concat(Int64(2), Int64(2), Blob("a1"), Int64(1), Blob("a2"), Int64(0), Int64(0))),
        ["Queues are a separate namespace; CHECK sees a non-empty queue"] = (
            [WireRequest.KeyValue(QueryType.QueuePush, K("q"), K("x")), WireRequest.KeyOnly(QueryType.Get, K("q")), WireRequest.Multi(QueryType.Check, [K("q")]),
             WireRequest.KeyOnly(QueryType.QueuePop, K("q")), WireRequest.Multi(QueryType.Check, [K("q")])],
            Concat(Int64(0), [Protocol.CheckReady], Int64(1), Blob("x"), [Protocol.CheckNotReady])),
        ["LIST_KEYS with one key"] = (
            [WireRequest.KeyValue(QueryType.Set, K("/only"), K("1")), WireRequest.Bare(QueryType.ListKeys)], Concat(Int64(1), Blob("/only"))),
        ["LIST_KEYS when empty"] = ([WireRequest.Bare(QueryType.ListKeys)], Int64(0)),
        ["Empty key is a valid key"] = (
            [WireRequest.KeyValue(QueryType.Set, [], K("e")), WireRequest.KeyOnly(QueryType.Get, [])], Blob("e")),
    };

    public static TheoryData<string> CaseNames() => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Replies_are_exactly_the_protocol_bytes(string name)
    {
        var (requests, replies) = Cases[name];
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);

        // A PING after the requests: a stray or missing reply byte shifts the echo and fails the comparison.
        await client.SendAsync(Encode([.. requests, WireRequest.Ping(Sentinel)]));
        var expected = Concat(replies, UInt32(Sentinel));
        var actual = await client.ReceiveExactlyAsync(expected.Length);
        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
        Assert.True(await client.NothingArrivesWithinAsync(TimeSpan.FromMilliseconds(20)));
    }

    [Fact]
    public async Task LIST_KEYS_lists_every_map_key_once_and_no_queue_names()
    {
        await using var server = await TestServer.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        string[] keys = ["/a", "init/", "/b/c", "x"];
        await client.SendAsync(Encode([
            .. keys.Select(k => WireRequest.KeyValue(QueryType.Set, K(k), K("v"))),
            WireRequest.KeyValue(QueryType.QueuePush, K("/queue"), K("v")),
            WireRequest.Bare(QueryType.ListKeys),
        ]));
        Assert.Equal(keys.Length, await client.ReadInt64Async());
        var listed = new List<string>();
        for (var i = 0; i < keys.Length; i++)
        {
            listed.Add(System.Text.Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), listed.Order(StringComparer.Ordinal));
    }
}
