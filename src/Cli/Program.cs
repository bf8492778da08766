namespace TcpStore.Cli;

/// <summary>The <c>tcpstore</c> executable.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static Task<int> Main(string[] args) => CliApp.RunAsync(args);
}
