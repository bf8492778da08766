namespace TcpStore.Fuzz.Harness;

/// <summary>
/// A harness invariant did not hold. It is deliberately an exception so that AFL (through SharpFuzz),
/// the mutation loop and the corpus-replay tests all see it as a crash.
/// </summary>
public sealed class FuzzInvariantException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException()
    {
    }

    /// <summary>Creates the exception with the violated invariant.</summary>
    public FuzzInvariantException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the violated invariant and its cause.</summary>
    public FuzzInvariantException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Throws when <paramref name="condition"/> is false.</summary>
    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzInvariantException(message);
        }
    }
}
