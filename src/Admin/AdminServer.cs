using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TcpStore.Server.Inspection;

namespace TcpStore.Server.Admin;

/// <summary>
/// The admin HTTP listener (Kestrel): JSON inspection endpoints, <c>/healthz</c>, <c>/readyz</c>,
/// <c>/metrics</c> (Prometheus text) and the live page at <c>/</c>. It only reads the server's
/// snapshots; the store's request path does not know it exists.
/// </summary>
public sealed class AdminServer : IAsyncDisposable
{
    /// <summary>JSON settings of every endpoint (camelCase, as web clients expect).</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly WebApplication _app;
    private readonly PrometheusText _metrics;

    private AdminServer(WebApplication app, PrometheusText metrics)
    {
        _app = app;
        _metrics = metrics;
    }

    /// <summary>The bound address (after start).</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Starts the listener for <paramref name="server"/>.</summary>
    public static async Task<AdminServer> StartAsync(TcpStoreServer server, AdminOptions options, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(AdminServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        // The host process (tcpstore serve, or an embedding application) owns signals and shutdown;
        // the default console lifetime would hook SIGTERM and Ctrl-C a second time.
        builder.Services.AddSingleton<IHostLifetime, PassiveLifetime>();

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(options.Host, options.Port);
        });
        var app = builder.Build();
        var metrics = new PrometheusText(server.Meters);
        var admin = new AdminServer(app, metrics);
        Map(app, server, options, metrics);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        admin.Address = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal));
        return admin;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }

    private static void Map(WebApplication app, TcpStoreServer server, AdminOptions options, PrometheusText metrics)
    {
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", () => server.LocalEndPoint is null
            ? Results.Text("not listening\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n"));
        app.MapGet("/metrics", () => Results.Text(metrics.Scrape(), PrometheusText.ContentType));
        app.MapGet("/api/inspect", (HttpRequest request) => Results.Json(Limit(server.Inspect(World(request)), request), Json));
        app.MapGet("/api/status", (HttpRequest request) => Results.Json(server.Inspect(World(request)).Server, Json));
        app.MapGet("/api/clients", (HttpRequest request) => Results.Json(server.Inspect(World(request)).Clients, Json));
        app.MapGet("/api/waiters", (HttpRequest request) => Results.Json(server.Inspect(World(request)).Waiters, Json));
        var feed = new PageFeed(server, PageRows, PageFeed.PageInterval);
        app.MapGet("/api/page", (HttpRequest request) => Results.Bytes(feed.Json(World(request)), "application/json; charset=utf-8"));
        app.MapGet("/api/keys", () => Results.Json(server.InspectKeys(options.ShowValues), Json));
        app.MapGet("/", (HttpRequest request) => Results.Content(LivePage.Render(Limit(server.Inspect(World(request)), PageRows)), "text/html; charset=utf-8"));
    }

    // The page shows at most this many clients and waiters (oldest waiters first); the summary
    // still counts them all. Keeps each poll cheap for the server and the browser at 10,000 ranks.
    private const int PageRows = 200;

    // ?limit=N: at most N clients and N waiters (the live page asks for PageRows).
    private static InspectionSnapshot Limit(InspectionSnapshot snapshot, HttpRequest request) =>
        int.TryParse(request.Query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? Limit(snapshot, n) : snapshot;

    internal static InspectionSnapshot Limit(InspectionSnapshot snapshot, int rows) =>
        snapshot.Clients.Count <= rows && snapshot.Waiters.Count <= rows
            ? snapshot
            : snapshot with { Clients = [.. snapshot.Clients.Take(rows)], Waiters = [.. snapshot.Waiters.Take(rows)] };

    // ?world=N: the operator's world size; anything else is ignored rather than guessed at.
    private static int? World(HttpRequest request) =>
        int.TryParse(request.Query["world"], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 1 << 24 ? n : null;
}
