namespace TcpStore.Codec;

/// <summary>
/// What happened to a watched key: the 1.13 WatchResponseType values, which are also the first byte
/// of the unsolicited notification a WATCH_KEY connection receives.
/// </summary>
public enum KeyChange : byte
{
    /// <summary>An existing key got a new value (SET, ADD, APPEND, or a COMPARE_SET that matched).</summary>
    Updated = 0,

    /// <summary>A missing key was created.</summary>
    Created = 1,

    /// <summary>A key was deleted.</summary>
    Deleted = 2,
}
