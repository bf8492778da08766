using System.Net.Http.Json;
using System.Text.Json;
using TcpStore.Core.Inspection;
using TcpStore.Server.Admin;
using TcpStore.Server.Inspection;
using TcpStore.Tests.Client;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Inspection;

/// <summary>
/// A job of real PyTorch 2.10 ranks (real gloo process groups, real TCPStore clients) stalls with
/// ranks withheld; <c>tcpstore status</c>, the JSON endpoints and the live page (in headless
/// Chromium) must name the ranks that never arrived.
/// </summary>
[Collection("Inspection")]
public sealed class StalledJobTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Gloo_rendezvous_with_ranks_6_and_7_absent_is_named_by_status_waiters_and_the_live_page()
    {
        await using var host = await AdminHost.StartAsync();
        await using var job = RankJob.StartStalledGloo(host.Store.Port, world: 8, Enumerable.Range(0, 6));
        Assert.True(await Eventually.TrueAsync(() => host.Store.Server.Inspect().Server.WaitingConnections == 6, Settle));

        // The world size is read from gloo's rank records: no --world-size needed.
        var status = await CliRunner.RunInProcessAsync("status", "--admin", host.Url);
        Assert.Equal(0, status.ExitCode);
        Assert.Contains("WAIT  0//cpu//0: 6 of 8 ranks present, missing 6, 7; 6 connections waiting, oldest", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok    init/: 6 clients checked in", status.Stdout, StringComparison.Ordinal);

        var json = await CliRunner.RunInProcessAsync("status", "--admin", host.Url, "--json");
        var summary = JsonSerializer.Deserialize<ServerSnapshot>(json.Stdout, AdminServer.Json)!;
        var group = Assert.Single(summary.Groups, g => g.Kind == RendezvousKinds.RankKeys);
        Assert.Equal([6, 7], group.MissingRanks);
        Assert.Equal([0, 1, 2, 3, 4, 5], group.PresentRanks);
        Assert.Equal(8, group.WorldSize);
        Assert.Equal(6, summary.Connections);

        // Every rank waits for rank 6's key (gloo waits in rank order); each connection is tied to its rank.
        var waiters = await CliRunner.RunInProcessAsync("waiters", "--admin", host.Url);
        var rows = waiters.Lines.Skip(1).ToList();
        Assert.Equal(6, rows.Count);
        foreach (var rank in Enumerable.Range(0, 6))
        {
            Assert.Single(rows, r => r.Contains($" {rank} of 0//cpu//0 ", StringComparison.Ordinal) && r.EndsWith("/0//cpu//0/6", StringComparison.Ordinal));
        }

        var clients = JsonSerializer.Deserialize<List<ClientSnapshot>>((await CliRunner.RunInProcessAsync("clients", "--admin", host.Url, "--json")).Stdout, AdminServer.Json)!;
        Assert.Equal(Enumerable.Range(0, 6).Select(r => (int?)r), clients.Select(c => c.Rank).Order());
        Assert.All(clients, c => Assert.Equal(["/0//cpu//0/6"], c.WaitingFor));

        var dom = await HeadlessChromium.DumpDomAsync(host.Url + "/");
        Assert.Contains("0//cpu//0: 6 of 8 ranks present, missing 6, 7", dom, StringComparison.Ordinal);
        Assert.Contains("data-missing=\"6,7\"", dom, StringComparison.Ordinal);
        if (Environment.GetEnvironmentVariable("TCPSTORE_INSPECTOR_SCREENSHOT") is { Length: > 0 } screenshot)
        {
            await HeadlessChromium.ScreenshotAsync(host.Url + "/", screenshot);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Real_gloo_rank_values_carry_one_entry_per_rank(int world)
    {
        await using var host = await AdminHost.StartAsync();
        await using var job = await RankJob.ConnectGlooAsync(host.Store.Port, world);
        foreach (var rank in Enumerable.Range(0, world))
        {
            var value = host.Store.Server.Store.Get(RankJob.Utf8("/0//cpu//0/" + rank));
            Assert.NotNull(value);
            Assert.Equal(world, GlooRankValue.WorldSize(value));
        }

        if (world == 1)
        {
            return; // one key and nobody waiting is not recognised as a rendezvous (a stray key)
        }

        var group = Assert.Single(host.Store.Server.Inspect().Server.Groups, g => g.Kind == RendezvousKinds.RankKeys);
        Assert.Equal(("0//cpu//0", world, "gloo rank value", true), (group.Name, group.WorldSize, group.WorldSizeSource, group.Complete));
        Assert.Equal(Enumerable.Range(0, world), group.PresentRanks);
    }

    [Fact]
    public async Task Store_based_barrier_with_ranks_withheld_names_them_from_the_ranks_gloo_revealed()
    {
        await using var host = await AdminHost.StartAsync();
        await using var job = await RankJob.ConnectGlooAsync(host.Store.Port, world: 8);
        Assert.Contains(host.Store.Server.Inspect().Server.Groups, g => g.Kind == RendezvousKinds.RankKeys && g.Complete && g.WorldSize == 8);
        await job.StoreBasedBarrierAsync("1", world: 8, Enumerable.Range(0, 6));
        Assert.True(await Eventually.TrueAsync(() => host.Store.Server.Inspect().Server.WaitingConnections == 6, Settle));

        var withoutWorld = await CliRunner.RunInProcessAsync("status", "--admin", host.Url);
        Assert.Contains("WAIT  store_based_barrier_key:1: 6 arrived (world size unknown); 6 connections waiting", withoutWorld.Stdout, StringComparison.Ordinal);
        Assert.Contains("ok    0//cpu//0: 8 of 8 ranks present", withoutWorld.Stdout, StringComparison.Ordinal);

        var status = await CliRunner.RunInProcessAsync("status", "--admin", host.Url, "--world-size", "8");
        Assert.Contains("WAIT  store_based_barrier_key:1: 6 of 8 arrived, missing 6, 7; 6 connections waiting", status.Stdout, StringComparison.Ordinal);

        var dom = await HeadlessChromium.DumpDomAsync(host.Url + "/?world=8");
        Assert.Contains("store_based_barrier_key:1: 6 of 8 arrived, missing 6, 7", dom, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Torchelastic_barrier_with_ranks_withheld_is_named_from_its_trace_keys()
    {
        await using var host = await AdminHost.StartAsync();
        await using var job = await RankJob.ConnectAsync(host.Store.Port, world: 8, ranks: 6);
        await job.ElasticBarrierTimedOutAsync("torchelastic/agent/barrier", world: 8, [.. Enumerable.Range(0, 6)]);
        Assert.True(await Eventually.TrueAsync(() => host.Store.Server.Inspect().Server.WaitingConnections == 6, Settle));

        // Rank 0 waits for rank 6's trace key: certainly missing; 7 is unknown without a world size.
        var status = await CliRunner.RunInProcessAsync("status", "--admin", host.Url);
        Assert.Contains("WAIT  torchelastic/agent/barrier: 6 arrived (world size unknown), missing 6; 6 connections waiting", status.Stdout, StringComparison.Ordinal);

        var known = await CliRunner.RunInProcessAsync("status", "--admin", host.Url, "--world-size", "8");
        Assert.Contains("WAIT  torchelastic/agent/barrier: 6 of 8 arrived, missing 6, 7; 6 connections waiting", known.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_a_non_loopback_admin_host_without_the_flag()
    {
        var result = await CliRunner.RunInProcessAsync("serve", "--port", "0", "--admin-port", "0", "--admin-host", "0.0.0.0");
        Assert.Equal(4, result.ExitCode); // a usage error
        Assert.Contains("--admin-allow-remote", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_without_a_reachable_admin_endpoint_exits_3()
    {
        var result = await CliRunner.RunInProcessAsync("status", "--admin", "http://127.0.0.1:1");
        Assert.Equal(3, result.ExitCode); // cannot connect, as the client commands
        Assert.Contains("cannot read http://127.0.0.1:1", result.Stderr, StringComparison.Ordinal);
    }
}
