using System.CommandLine;

namespace TcpStore.Cli;

/// <summary>The <c>tcpstore</c> executable.</summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static Task<int> Main(string[] args)
    {
        var root = new RootCommand("tcpstore: a PyTorch c10d TCPStore server and client tools.")
        {
            ServeCommand.Create(),
        };
        ClientCommands.AddTo(root);
        AdminCommands.AddTo(root);
        return root.Parse(args).InvokeAsync();
    }
}
