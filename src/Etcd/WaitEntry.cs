using TcpStore.Core;

namespace TcpStore.Etcd;

/// <summary>
/// One pending WAIT: the keys it still needs. It is registered before the check reads the cluster
/// (at revision R), buffers events until R is known, and from then on counts only writes after R,
/// so no write between the check and the watch is lost and none before it counts twice.
/// </summary>
internal sealed class WaitEntry(Session session, byte[][] names)
{
    public Session Session { get; } = session;

    public byte[][] Names { get; } = names;

    public bool[] Satisfied { get; } = new bool[names.Length];

    public int Remaining { get; set; } = names.Length;

    /// <summary>The check's revision; -1 while the check is still running.</summary>
    public long Threshold { get; set; } = -1;

    /// <summary>Events that arrived while the check was running: name and revision.</summary>
    public List<(byte[] Name, long Revision)> Buffered { get; } = [];

    public bool Finished { get; set; }

    /// <summary>Marks every occurrence of <paramref name="name"/> satisfied; true when that was the last one needed.</summary>
    public bool Satisfy(ReadOnlySpan<byte> name)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (!Satisfied[i] && name.SequenceEqual(Names[i]))
            {
                Satisfied[i] = true;
                Remaining--;
            }
        }

        return Remaining == 0;
    }

    public bool Needs(ReadOnlySpan<byte> name)
    {
        for (var i = 0; i < Names.Length; i++)
        {
            if (!Satisfied[i] && name.SequenceEqual(Names[i]))
            {
                return true;
            }
        }

        return false;
    }
}
