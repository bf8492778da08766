namespace TcpStore.Codec;

/// <summary>
/// Translates between the pre-2.2 command codes and <see cref="QueryType"/>. The request and reply
/// layouts of every command are the same as in 2.2+; only the code byte differs (2.2 put VALIDATE
/// at 0 and shifted the rest by one), and 1.13 had WATCH_KEY where 2.1 has DELETE_KEY.
/// </summary>
public static class LegacyCodes
{
    /// <summary>The WATCH_KEY reply that confirms a registration (1.13 WatchResponseType).</summary>
    public const byte KeyCallbackRegistered = 3;

    /// <summary>The first byte a modern (2.2+) connection sends: VALIDATE.</summary>
    public const int DetectionBytes = 5;

    // Shared by both tables: the 2.2 code minus one.
    private static readonly QueryType[] Common =
    [
        QueryType.Set, QueryType.CompareSet, QueryType.Get, QueryType.Add,
        QueryType.Check, QueryType.Wait, QueryType.GetNumKeys,
    ];

    /// <summary>The command a legacy code stands for in <paramref name="table"/>.</summary>
    /// <returns>False for a code the table does not have.</returns>
    public static bool TryDecode(LegacyProtocol table, byte code, out QueryType type)
    {
        if (table == LegacyProtocol.Off)
        {
            type = QueryType.Validate;
            return false;
        }

        if (code < Common.Length)
        {
            type = Common[code];
            return true;
        }

        type = (table, code) switch
        {
            (LegacyProtocol.Torch113, 7) => QueryType.WatchKey,
            (LegacyProtocol.Torch113, 8) => QueryType.DeleteKey,
            (LegacyProtocol.Torch21, 7) => QueryType.DeleteKey,
            (LegacyProtocol.Torch21, 8) => QueryType.Append,
            // 9-11 exist only in the 2.1 table, so they mean the same under either table.
            (_, 9) => QueryType.MultiGet,
            (_, 10) => QueryType.MultiSet,
            (_, 11) => QueryType.CancelWait,
            _ => QueryType.Validate,
        };
        return type != QueryType.Validate;
    }

    /// <summary>The code <paramref name="table"/> uses for <paramref name="type"/>.</summary>
    /// <returns>False for a command the table has no code for (VALIDATE, PING, queues, LIST_KEYS, APPEND in 1.13).</returns>
    public static bool TryEncode(LegacyProtocol table, QueryType type, out byte code)
    {
        for (code = 0; code <= 11; code++)
        {
            if (TryDecode(table, code, out var decoded) && decoded == type)
            {
                return true;
            }
        }

        code = 0;
        return false;
    }

    /// <summary>
    /// Whether a connection whose received bytes start with <paramref name="head"/> is a pre-2.2
    /// client. Modern clients open with VALIDATE (<c>00 CE F7 85 3C</c>); anything else is legacy. A
    /// legacy frame that starts with 0 (SET) is at least 17 bytes, so waiting for five bytes never stalls one.
    /// </summary>
    /// <returns>Null while undecided (fewer than five bytes, all matching VALIDATE so far).</returns>
    public static bool? IsLegacyOpening(ReadOnlySpan<byte> head)
    {
        ReadOnlySpan<byte> validate = [0x00, 0xCE, 0xF7, 0x85, 0x3C];
        var compared = Math.Min(head.Length, validate.Length);
        if (!head[..compared].SequenceEqual(validate[..compared]))
        {
            return true;
        }

        return compared == validate.Length ? false : null;
    }
}
