namespace TcpStore.Cli;

/// <summary>An argument that parsed but cannot be used; reported as one line, exit <see cref="ExitCodes.Usage"/>.</summary>
internal sealed class UsageException(string message) : Exception(message);
