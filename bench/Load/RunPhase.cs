namespace TcpStore.Bench.Load;

/// <summary>Shared run state: the phase every connection reads, set by the driver.</summary>
public sealed class RunPhase
{
    private int _value;

    /// <summary>0 = warm-up (not counted), 1 = measuring, 2 = stop issuing.</summary>
    public int Value
    {
        get => Volatile.Read(ref _value);
        set => Volatile.Write(ref _value, value);
    }
}
