using TcpStore.Server;

await using var server = new TcpStoreServer(new TcpStoreServerOptions { Port = 0 }); // 0: any free port
await server.StartAsync();
Console.WriteLine($"listening on port {server.Port}");
// ... run the job; ranks connect to this host and port. StopAsync() drains replies in flight; disposing closes at once.
