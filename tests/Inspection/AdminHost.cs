using TcpStore.Server.Admin;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Inspection;

/// <summary>An in-process store server with its admin listener on an ephemeral loopback port.</summary>
internal sealed class AdminHost : IAsyncDisposable
{
    private AdminHost(TestServer store, AdminServer admin)
    {
        Store = store;
        Admin = admin;
    }

    public TestServer Store { get; }

    public AdminServer Admin { get; }

    /// <summary>The admin base URL without a trailing slash.</summary>
    public string Url => Admin.Address.ToString().TrimEnd('/');

    public static async Task<AdminHost> StartAsync(bool showValues = false)
    {
        var store = await TestServer.StartAsync();
        try
        {
            var admin = await AdminServer.StartAsync(store.Server, new AdminOptions { Port = 0, ShowValues = showValues });
            return new AdminHost(store, admin);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Store.DisposeAsync();
    }
}
