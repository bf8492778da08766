namespace TcpStore.Tests.Hostile;

/// <summary>
/// Attack tests run one at a time and alone: some hold thousands of sockets (the 20,000-fd process
/// limit is shared with every other test) and some compare memory against a baseline.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostileCollection
{
    public const string Name = "Hostile clients";
}
