using Microsoft.Extensions.Hosting;

namespace TcpStore.Server.Admin;

/// <summary>A host lifetime that listens to no signals: the process embedding the admin listener stops it.</summary>
internal sealed class PassiveLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
