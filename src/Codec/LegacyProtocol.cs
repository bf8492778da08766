namespace TcpStore.Codec;

/// <summary>
/// The command table spoken by clients that predate connection validation (PyTorch before 2.2).
/// Their codes collide (7 and 8 mean different things), so a server picks one table for every
/// connection that does not open with VALIDATE.
/// </summary>
public enum LegacyProtocol
{
    /// <summary>Pre-2.2 clients are refused: a connection must open with VALIDATE.</summary>
    Off = 0,

    /// <summary>
    /// PyTorch 1.13 (and 2.0, which kept its table): SET 0 … GETNUMKEYS 6, WATCH_KEY 7, DELETE_KEY 8.
    /// Codes 9–11 exist only in the 2.1 table and keep their 2.1 meaning (MULTI_GET, MULTI_SET, CANCEL_WAIT).
    /// </summary>
    Torch113 = 1,

    /// <summary>PyTorch 2.1: SET 0 … GETNUMKEYS 6, DELETE_KEY 7, APPEND 8, MULTI_GET 9, MULTI_SET 10, CANCEL_WAIT 11.</summary>
    Torch21 = 2,
}
