using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// Told of every change to a key of the key-value map (legacy WATCH_KEY notifications). It is called
/// under the store's write lock, before the change is applied, so it must copy what it keeps and
/// must not block or call back into the store.
/// </summary>
public interface IKeyChangeObserver
{
    /// <summary>A key is about to change from <paramref name="oldValue"/> to <paramref name="newValue"/>.</summary>
    void OnKeyChanged(KeyChange change, ReadOnlySpan<byte> key, ReadOnlySpan<byte> oldValue, ReadOnlySpan<byte> newValue);
}
