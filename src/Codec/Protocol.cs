namespace TcpStore.Codec;

/// <summary>Wire constants shared by the server and the client.</summary>
public static class Protocol
{
    /// <summary>The magic number that follows the VALIDATE command byte.</summary>
    public const uint ValidationMagic = 0x3C85F7CE;

    /// <summary>CHECK reply: every key is present.</summary>
    public const byte CheckReady = 0;

    /// <summary>CHECK reply: at least one key is missing.</summary>
    public const byte CheckNotReady = 1;

    /// <summary>WAIT reply: every awaited key is present.</summary>
    public const byte StopWaiting = 0;

    /// <summary>CANCEL_WAIT reply.</summary>
    public const byte WaitCanceled = 1;

    /// <summary>Highest command code understood (LIST_KEYS, PyTorch 2.10).</summary>
    public const byte MaxQueryType = (byte)QueryType.ListKeys;

    /// <summary>The default TCP port of a c10d store.</summary>
    public const int DefaultPort = 29500;
}
