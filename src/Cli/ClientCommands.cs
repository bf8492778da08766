using System.CommandLine;
using System.Globalization;
using System.Text;
using TcpStore.Client;

namespace TcpStore.Cli;

/// <summary>
/// The client commands of the <c>tcpstore</c> executable (<c>set</c>, <c>get</c>, <c>keys</c>, ...): one request
/// each against a running server, ours or PyTorch's. Exit codes are in <see cref="ClientCommandRunner"/>.
/// </summary>
internal static class ClientCommands
{
    /// <summary>Adds every client command to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        var common = new ClientCommandOptions();
        foreach (var command in Create(common))
        {
            common.AddTo(command);
            root.Subcommands.Add(command);
        }
    }

    private static IEnumerable<Command> Create(ClientCommandOptions common)
    {
        yield return KeyValue("set", "Store VALUE under KEY (prints nothing).", common, static (c, k, v, t) => c.SetAsync(k, v, t));
        yield return KeyValue("append", "Append VALUE to KEY's value, creating it if missing (prints nothing).", common, static (c, k, v, t) => c.AppendAsync(k, v, t));
        yield return KeyValue("qpush", "Push VALUE onto queue KEY (libuv servers; prints nothing).", common, static (c, k, v, t) => c.QueuePushAsync(k, v, t));
        yield return MultiSet(common);
        yield return Get(common);
        yield return MultiGet(common);
        yield return Add(common);
        yield return CompareSet(common);
        yield return Delete(common);
        yield return Check(common);
        yield return Wait(common);
        yield return Keys(common);
        yield return NumKeys(common);
        yield return QueuePop(common);
        yield return QueueLength(common);
        yield return Ping(common);
    }

    private static Argument<string> KeyArgument(string name = "KEY") => new(name) { Description = "The key (UTF-8)." };

    private static Argument<string[]> KeysArgument() => new("KEY") { Description = "The keys (UTF-8).", Arity = ArgumentArity.OneOrMore };

    private static byte[] Key(string text) => Encoding.UTF8.GetBytes(text);

    private static Command KeyValue(
        string name, string description, ClientCommandOptions common,
        Func<TcpStoreClient, ReadOnlyMemory<byte>, ReadOnlyMemory<byte>, CancellationToken, ValueTask> send)
    {
        var key = KeyArgument(name == "qpush" ? "QUEUE" : "KEY");
        var value = new Argument<string>("VALUE") { Description = "The value (hex with --hex)." };
        var command = new Command(name, description) { key, value };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            await send(client, Key(parse.GetValue(key)!), common.Value(parse, parse.GetValue(value)!), token).ConfigureAwait(false);
            await ClientCommandRunner.ConfirmAsync(client, token).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command MultiSet(ClientCommandOptions common)
    {
        var pairs = new Argument<string[]>("KEY VALUE") { Description = "Key/value pairs.", Arity = ArgumentArity.OneOrMore };
        var command = new Command("mset", "Store several KEY VALUE pairs in one request (prints nothing).") { pairs };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var items = parse.GetValue(pairs)!;
            if (items.Length % 2 != 0)
            {
                throw new ArgumentException("mset takes KEY VALUE pairs: the last key has no value");
            }

            var keys = new byte[items.Length / 2][];
            var values = new byte[items.Length / 2][];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = Key(items[2 * i]);
                values[i] = common.Value(parse, items[(2 * i) + 1]);
            }

            await client.MultiSetAsync(keys, values, token).ConfigureAwait(false);
            await ClientCommandRunner.ConfirmAsync(client, token).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Get(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var command = new Command("get", "Wait for KEY (up to --timeout), then print its value.") { key };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var value = await client.GetAsync(Key(parse.GetValue(key)!), token).ConfigureAwait(false);
            await output.WriteLineAsync(common.Show(parse, value)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command MultiGet(ClientCommandOptions common)
    {
        var keys = KeysArgument();
        var command = new Command("mget", "Wait for every KEY (up to --timeout), then print their values, one per line.") { keys };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var values = await client.MultiGetAsync(parse.GetValue(keys)!.Select(Key).ToArray(), token).ConfigureAwait(false);
            foreach (var value in values)
            {
                await output.WriteLineAsync(common.Show(parse, value)).ConfigureAwait(false);
            }

            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Add(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var delta = new Argument<long>("N") { Description = "The amount to add (may be negative)." };
        var command = new Command("add", "Add N to the counter under KEY and print the new value.") { key, delta };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var result = await client.AddAsync(Key(parse.GetValue(key)!), parse.GetValue(delta), token).ConfigureAwait(false);
            await output.WriteLineAsync(result.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command CompareSet(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var expected = new Argument<string>("EXPECTED") { Description = "The value KEY must hold ('' also matches a missing key)." };
        var desired = new Argument<string>("DESIRED") { Description = "The value to store on a match." };
        var command = new Command("cas", "Compare-and-set: store DESIRED if KEY holds EXPECTED; print the server's answer (the value after the operation).")
        {
            key, expected, desired,
        };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var result = await client.CompareSetAsync(
                Key(parse.GetValue(key)!), common.Value(parse, parse.GetValue(expected)!), common.Value(parse, parse.GetValue(desired)!), token)
                .ConfigureAwait(false);
            await output.WriteLineAsync(common.Show(parse, result)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Delete(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var command = new Command("del", "Delete KEY; print 1 if it existed, else 0.") { key };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var deleted = await client.DeleteKeyAsync(Key(parse.GetValue(key)!), token).ConfigureAwait(false);
            await output.WriteLineAsync(deleted ? "1" : "0").ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Check(ClientCommandOptions common)
    {
        var keys = KeysArgument();
        var command = new Command("check", "Print 'ready' (exit 0) if every KEY exists now, else 'not ready' (exit 1).") { keys };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var ready = await client.CheckAsync(parse.GetValue(keys)!.Select(Key).ToArray(), token).ConfigureAwait(false);
            await output.WriteLineAsync(ready ? "ready" : "not ready").ConfigureAwait(false);
            return ready ? ClientCommandRunner.Ok : ClientCommandRunner.Negative;
        });
        return command;
    }

    private static Command Wait(ClientCommandOptions common)
    {
        var keys = KeysArgument();
        var command = new Command("wait", "Wait until every KEY exists (exit 0), up to --timeout (exit 2, missing keys on stderr).") { keys };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            await client.WaitAsync(parse.GetValue(keys)!.Select(Key).ToArray(), client.Timeout, token).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Keys(ClientCommandOptions common)
    {
        var command = new Command("keys", "Print the keys (PyTorch 2.10+ servers), one per line, sorted; --raw shows every key as stored.");
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var keys = await client.ListKeysAsync(token).ConfigureAwait(false);
            foreach (var key in keys.OrderBy(k => k, ByteOrder.Instance))
            {
                await output.WriteLineAsync(ByteText.Display(key)).ConfigureAwait(false);
            }

            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command NumKeys(ClientCommandOptions common)
    {
        var command = new Command("numkeys", "Print the number of keys on the server (all of them, including internal ones).");
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var count = await client.NumKeysAsync(token).ConfigureAwait(false);
            await output.WriteLineAsync(count.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command QueuePop(ClientCommandOptions common)
    {
        var queue = KeyArgument("QUEUE");
        var block = new Option<bool>("--block") { Description = "Wait (up to --timeout) for a value instead of failing on an empty queue." };
        var command = new Command("qpop", "Pop the oldest value of QUEUE and print it; exit 1 if the queue is empty (libuv servers).") { queue, block };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var value = await client.QueuePopAsync(Key(parse.GetValue(queue)!), parse.GetValue(block), client.Timeout, token).ConfigureAwait(false);
            await output.WriteLineAsync(common.Show(parse, value)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command QueueLength(ClientCommandOptions common)
    {
        var queue = KeyArgument("QUEUE");
        var command = new Command("qlen", "Print the length of QUEUE (libuv servers).") { queue };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var length = await client.QueueLengthAsync(Key(parse.GetValue(queue)!), token).ConfigureAwait(false);
            await output.WriteLineAsync(length.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    private static Command Ping(ClientCommandOptions common)
    {
        var command = new Command("ping", "Round trip to the server; prints 'pong' and the time in milliseconds.");
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var elapsed = await client.PingAsync(token).ConfigureAwait(false);
            await output.WriteLineAsync($"pong {ClientCommandOptions.Milliseconds(elapsed)} ms").ConfigureAwait(false);
            return ClientCommandRunner.Ok;
        });
        return command;
    }

    /// <summary>Orders keys by their bytes (UTF-8 byte order is code point order).</summary>
    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static ByteOrder Instance { get; } = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
