using System.Collections.Frozen;

namespace TcpStore.Client;

/// <summary>Which requests the client may send again after the connection broke with their outcome unknown.</summary>
internal static class RetryPolicy
{
    // Reads change nothing; SET, MULTI_SET and DELETE_KEY leave the same state when applied twice (a repeated
    // DELETE_KEY may report that nothing was deleted). ADD, APPEND, COMPARE_SET and the queue operations would be
    // applied twice, so they are absent.
    private static readonly FrozenSet<string> Repeatable = new[]
    {
        "GET", "CHECK", "MULTI_GET", "LIST_KEYS", "GETNUMKEYS", "QUEUE_LEN", "PING", "WAIT", "SET", "MULTI_SET", "DELETE_KEY",
    }.ToFrozenSet(StringComparer.Ordinal);

    public static bool IsRepeatable(string what) => Repeatable.Contains(what);
}
