using System.Globalization;
using System.Text;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Legacy;

/// <summary>
/// torchrun from PyTorch 1.13 with <c>--rdzv_backend=c10d</c> pointed at our server: two "nodes" of
/// two workers each on this machine.
/// </summary>
/// <remarks>
/// 1.13's c10d backend first tries to host the store itself when the endpoint is a local address;
/// the bind fails (our server has the port) and it retries as a plain client, which is what an
/// external store needs (<c>--rdzv_conf is_host=false</c> skips the attempt). Our server then holds
/// the rendezvous state; the workers' own process group store is hosted by the rank-0 worker at the
/// MASTER_ADDR/MASTER_PORT the agents agreed on through our store.
/// </remarks>
public sealed class Torch113TorchrunTests
{
    [Fact]
    public async Task Torchrun_1_13_rendezvous_through_our_server_runs_2_nodes_of_2_workers()
    {
        await using var server = await TestServer.StartAsync();
        var endpoint = "127.0.0.1:" + server.Port.ToString(CultureInfo.InvariantCulture);
        var logs = Directory.CreateTempSubdirectory("torchrun113-");
        try
        {
            var nodes = Enumerable.Range(0, 2).Select(node => TorchPython.RunAsync(
                [
                    "-m", "torch.distributed.run",
                    "--nnodes=2", "--nproc_per_node=2", "--max_restarts=0",
                    "--rdzv_backend=c10d", "--rdzv_endpoint=" + endpoint, "--rdzv_id=legacy-job",
                    // 1.13's torchrun cannot parse its own defaults under Python 3.11 (Std.from_str("0")
                    // yields None, since 3.11 no longer iterates zero-valued IntFlag members): pass
                    // values it can parse. Workers' stdout is then teed to ours with a [defaultN] prefix.
                    "--redirects", "1", "--tee", "1", "--log_dir", Path.Combine(logs.FullName, "node" + node),
                    TorchPython.Script("torchrun_worker.py"),
                ],
                TimeSpan.FromMinutes(3))).ToList();
            var results = await Task.WhenAll(nodes);

            var all = string.Concat(results.Select(r => r.Output));
            foreach (var (exit, output, error) in results)
            {
                Assert.True(exit == 0, TorchPython.Describe(exit, output, error));
            }

            for (var rank = 0; rank < 4; rank++)
            {
                Assert.Contains($"ok worker {rank} of 4 group_rank {rank / 2}", all, StringComparison.Ordinal);
            }

            // The rendezvous ran on our server: its state key and the round's master address are here.
            var keys = server.Server.Store.Keys().Select(k => Encoding.UTF8.GetString(k)).ToList();
            Assert.Contains("/torch.rendezvous.legacy-job", keys);
            Assert.Contains(keys, k => k.StartsWith("/torch.rendezvous.legacy-job.0/", StringComparison.Ordinal) && k.EndsWith("MASTER_ADDR", StringComparison.Ordinal));
        }
        finally
        {
            logs.Delete(recursive: true);
        }
    }
}
