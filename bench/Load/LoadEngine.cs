using System.CommandLine;
using TcpStore.Server.Linux;

namespace TcpStore.Bench.Load;

/// <summary>How the generator moves bytes; the requests, replies and timing are the same in both.</summary>
public enum LoadEngine
{
    /// <summary>.NET async sockets, one task per connection: portable, but on one core the bottleneck at depth 1.</summary>
    Async,

    /// <summary>One thread, one level-triggered epoll loop over raw descriptors (Linux x86-64).</summary>
    Epoll,
}

/// <summary>The <c>--engine</c> option shared by <c>load</c> and <c>barrier</c>.</summary>
public static class LoadEngineOption
{
    /// <summary>Epoll where it can run, async elsewhere.</summary>
    public static LoadEngine Default => LinuxClientSockets.IsSupported ? LoadEngine.Epoll : LoadEngine.Async;

    /// <summary>The System.CommandLine option.</summary>
    public static Option<LoadEngine> Create() => new("--engine")
    {
        Description = "How the generator drives its connections: epoll (one thread, raw descriptors; Linux x64 only) or async (.NET sockets). Default: epoll where supported.",
        DefaultValueFactory = _ => Default,
    };

    /// <summary>Rejects an engine that cannot run on this machine.</summary>
    public static LoadEngine Check(LoadEngine engine) =>
        engine == LoadEngine.Epoll && !LinuxClientSockets.IsSupported
            ? throw new PlatformNotSupportedException("--engine epoll needs Linux on x86-64; use --engine async")
            : engine;
}
