using TcpStore.Codec;

namespace TcpStore.Core;

/// <summary>
/// The legacy (1.13/2.0) WATCH_KEY registrations of one store: per key, the sessions to notify, in
/// registration order. A session that registers the same key twice is notified twice, as the 1.13
/// server did. Registrations last until the session's connection closes.
/// </summary>
/// <remarks>
/// The store calls <see cref="OnKeyChanged"/> under its write lock; registration takes only this
/// object's lock, which is always taken after the store's, so the two never deadlock. A change is
/// delivered to every registration made before the change took this lock.
/// </remarks>
public sealed class KeyWatchers : IKeyChangeObserver
{
    private static readonly Lock AttachLock = new();
    private readonly Lock _lock = new();
    private readonly Dictionary<byte[], List<Session>> _byKey = new(ByteKeyComparer.Instance);
    private readonly Dictionary<byte[], List<Session>>.AlternateLookup<ReadOnlySpan<byte>> _byKeySpan;
    private readonly PooledBufferWriter _frame = new();

    private KeyWatchers() => _byKeySpan = _byKey.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>Number of watched keys.</summary>
    public int KeyCount
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count;
            }
        }
    }

    /// <summary>The store's watchers, installing them as its <see cref="KeyValueStore.KeyObserver"/> on first use.</summary>
    public static KeyWatchers For(KeyValueStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        lock (AttachLock)
        {
            if (store.KeyObserver is KeyWatchers existing)
            {
                return existing;
            }

            var created = new KeyWatchers();
            store.KeyObserver = created;
            return created;
        }
    }

    /// <summary>Registers <paramref name="session"/> for changes of <paramref name="key"/>.</summary>
    public void Add(ReadOnlySpan<byte> key, Session session)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_lock)
        {
            if (!_byKeySpan.TryGetValue(key, out var sessions))
            {
                sessions = [];
                _byKey.Add(key.ToArray(), sessions);
            }

            sessions.Add(session);
        }
    }

    /// <summary>Drops every registration of <paramref name="session"/> on the listed keys.</summary>
    public void Remove(IEnumerable<byte[]> keys, Session session)
    {
        ArgumentNullException.ThrowIfNull(keys);
        lock (_lock)
        {
            foreach (var key in keys)
            {
                if (_byKey.TryGetValue(key, out var sessions))
                {
                    sessions.RemoveAll(s => ReferenceEquals(s, session));
                    if (sessions.Count == 0)
                    {
                        _byKey.Remove(key);
                    }
                }
            }
        }
    }

    /// <inheritdoc />
    public void OnKeyChanged(KeyChange change, ReadOnlySpan<byte> key, ReadOnlySpan<byte> oldValue, ReadOnlySpan<byte> newValue)
    {
        lock (_lock)
        {
            if (_byKey.Count == 0 || !_byKeySpan.TryGetValue(key, out var sessions))
            {
                return;
            }

            // One encoding for every watcher; each session copies it into its own output.
            _frame.Clear();
            LegacyWatchWriter.WriteNotification(_frame, change, key, oldValue, newValue);
            foreach (var session in sessions)
            {
                session.DeliverUnsolicited(_frame.WrittenSpan);
            }
        }
    }
}
