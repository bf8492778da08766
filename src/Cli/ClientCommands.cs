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
    /// <summary>Adds every client command to <paramref name="root"/>; <paramref name="openInput"/> opens what a <c>-</c> value reads.</summary>
    public static void AddTo(RootCommand root, Func<Stream> openInput)
    {
        var common = new ClientCommandOptions(openInput);
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
        yield return KeyValue("qpush", "Push VALUE onto QUEUE (libuv servers; prints nothing).", common, static (c, k, v, t) => c.QueuePushAsync(k, v, t));
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

    private static Argument<string> KeyArgument(string name = "KEY")
    {
        var argument = new Argument<string>(name) { Description = name == "QUEUE" ? "The queue's name (UTF-8)." : "The key (UTF-8)." };
        ValueParsers.RequireUtf8(argument);
        return argument;
    }

    // The help shows "<KEY>..." so that it is clear several keys may follow.
    private static Argument<string[]> KeysArgument()
    {
        var argument = new Argument<string[]>("KEY") { Description = "The keys (UTF-8), one or more.", Arity = ArgumentArity.OneOrMore, HelpName = "KEY..." };
        ValueParsers.RequireUtf8(argument);
        return argument;
    }

    private static Argument<string> ValueArgument(string name, string description)
    {
        var argument = new Argument<string>(name) { Description = description };
        ValueParsers.RequireUtf8(argument);
        return argument;
    }

    private static byte[] Key(string text) => Encoding.UTF8.GetBytes(text);

    private static Command KeyValue(
        string name, string description, ClientCommandOptions common,
        Func<TcpStoreClient, ReadOnlyMemory<byte>, ReadOnlyMemory<byte>, CancellationToken, ValueTask> send)
    {
        var key = KeyArgument(name == "qpush" ? "QUEUE" : "KEY");
        var value = ValueArgument("VALUE", "The value (hex with --hex); '-' reads it from standard input, as bytes, of any size.");
        value.Arity = ArgumentArity.ZeroOrOne;
        var file = new Option<FileInfo>("--file", "-f") { Description = "Read the value from this file (its bytes as they are, of any size) instead of VALUE." };
        var command = new Command(name, description) { key, value, file };
        ClientCommandRunner.SetAction(command, common, (parse, token) => common.ValueAsync(parse, value, file, token), async (client, parse, bytes, output, token) =>
        {
            await send(client, Key(parse.GetValue(key)!), bytes, token).ConfigureAwait(false);
            await ClientCommandRunner.ConfirmAsync(client, token).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command MultiSet(ClientCommandOptions common)
    {
        var pairs = new Argument<string[]>("KEY VALUE") { Description = "Key/value pairs.", Arity = ArgumentArity.OneOrMore, HelpName = "KEY VALUE..." };
        ValueParsers.RequireUtf8(pairs);
        var command = new Command("mset", "Store several KEY VALUE pairs in one request (prints nothing).") { pairs };
        ClientCommandRunner.SetAction(command, common, (parse, _) =>
        {
            var items = parse.GetValue(pairs)!;
            if (items.Length % 2 != 0)
            {
                throw new UsageException($"KEY VALUE: pairs expected, but the last key '{items[^1]}' has no value");
            }

            var keys = new byte[items.Length / 2][];
            var values = new byte[items.Length / 2][];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = Key(items[2 * i]);
                values[i] = common.Value(parse, "VALUE", items[(2 * i) + 1]);
            }

            return Task.FromResult((keys, values));
        }, async (client, parse, input, output, token) =>
        {
            await client.MultiSetAsync(input.keys, input.values, token).ConfigureAwait(false);
            await ClientCommandRunner.ConfirmAsync(client, token).ConfigureAwait(false);
            return ExitCodes.Ok;
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
            return ExitCodes.Ok;
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

            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Add(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var delta = new Argument<long>("N")
        {
            Description = "The amount to add (may be negative).",
            CustomParser = ValueParsers.Int64(long.MinValue, long.MaxValue, "a whole number (such as 1 or -5)"),
        };
        var command = new Command("add", "Add N to the counter under KEY and print the new value.") { key, delta };
        ClientCommandRunner.SetAction(command, common, async (client, parse, output, token) =>
        {
            var result = await client.AddAsync(Key(parse.GetValue(key)!), parse.GetValue(delta), token).ConfigureAwait(false);
            await output.WriteLineAsync(result.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command CompareSet(ClientCommandOptions common)
    {
        var key = KeyArgument();
        var expected = ValueArgument("EXPECTED", "The value KEY must hold ('' also matches a missing key; hex with --hex).");
        var desired = ValueArgument("DESIRED", "The value to store on a match (hex with --hex).");
        var command = new Command("cas", "Compare-and-set: store DESIRED if KEY holds EXPECTED; print the server's answer (the value after the operation).")
        {
            key, expected, desired,
        };
        ClientCommandRunner.SetAction(
            command,
            common,
            (parse, _) => Task.FromResult((common.Value(parse, "EXPECTED", parse.GetValue(expected)!), common.Value(parse, "DESIRED", parse.GetValue(desired)!))),
            async (client, parse, values, output, token) =>
        {
            var result = await client.CompareSetAsync(Key(parse.GetValue(key)!), values.Item1, values.Item2, token).ConfigureAwait(false);
            await output.WriteLineAsync(common.Show(parse, result)).ConfigureAwait(false);
            return ExitCodes.Ok;
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
            return ExitCodes.Ok;
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
            return ready ? ExitCodes.Ok : ExitCodes.Negative;
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
            return ExitCodes.Ok;
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

            return ExitCodes.Ok;
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
            return ExitCodes.Ok;
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
            byte[] value;
            try
            {
                value = await client.QueuePopAsync(Key(parse.GetValue(queue)!), parse.GetValue(block), client.Timeout, token).ConfigureAwait(false);
            }
            catch (TcpStoreTimeoutException)
            {
                // The client's message names missing keys, which says nothing useful about a queue.
                await parse.InvocationConfiguration.Error.WriteLineAsync(
                    $"tcpstore: timeout: queue '{parse.GetValue(queue)}' stayed empty for {parse.GetValue(common.Timeout).ToString(CultureInfo.InvariantCulture)} s")
                    .ConfigureAwait(false);
                return ExitCodes.TimedOut;
            }

            await output.WriteLineAsync(common.Show(parse, value)).ConfigureAwait(false);
            return ExitCodes.Ok;
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
            return ExitCodes.Ok;
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
            return ExitCodes.Ok;
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
