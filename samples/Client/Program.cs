using TcpStore.Client;

// The same variables torchrun sets for every rank.
await using var store = await TcpStoreClient.ConnectAsync(new TcpStoreClientOptions
{
    Host = Environment.GetEnvironmentVariable("MASTER_ADDR") ?? "127.0.0.1",
    Port = int.Parse(Environment.GetEnvironmentVariable("MASTER_PORT") ?? "29500"),
    WorldSize = int.Parse(Environment.GetEnvironmentVariable("WORLD_SIZE") ?? "1"),
    Timeout = TimeSpan.FromSeconds(60),
});
await store.SetAsync("addr", "10.0.0.7:1234");
long rank = await store.AddAsync("ranks", 1) - 1;
string peer = await store.GetStringAsync("addr");          // waits for the key, like PyTorch
await store.SetAsync($"ready/{rank}", "1");
await store.WaitAsync([$"ready/{rank}"], TimeSpan.FromSeconds(5)); // TcpStoreTimeoutException names the missing keys
var pg = new PrefixStore("default_pg", store);            // same layout as PyTorch's PrefixStore
await pg.SetAsync("hello", "world");                      // stored as "default_pg/hello"
Console.WriteLine($"rank {rank}: peer {peer}");
