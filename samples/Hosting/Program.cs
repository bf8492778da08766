using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// appsettings.json, environment variables and the command line (--TcpStore:Port 29501) configure it.
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddTcpStoreServer(builder.Configuration.GetSection("TcpStore"));
await builder.Build().RunAsync(); // logs "listening on ..."; SIGTERM drains replies in flight, then stops
