using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TcpStore.Server.Admin;
using TcpStore.Server.Inspection;

namespace TcpStore.Cli;

/// <summary>
/// <c>tcpstore status</c>, <c>clients</c> and <c>waiters</c>: read a server's admin endpoint
/// (<c>serve --admin-port</c>) and print human tables, or the endpoint's JSON with <c>--json</c>.
/// Exit codes: 0 success, 2 the admin endpoint could not be read.
/// </summary>
internal static class AdminCommands
{
    /// <summary>The admin URL used when <c>--admin</c> is not given.</summary>
    public const string DefaultAdmin = "http://127.0.0.1:29501";

    /// <summary>Adds the commands to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root)
    {
        root.Subcommands.Add(Create("status", "Show the server, its connections and keys, and every rendezvous with its missing ranks.", withWorld: true, Status));
        root.Subcommands.Add(Create("clients", "List the open connections: peer, rank, age, requests, bytes, what each waits for.", withWorld: false, Clients));
        root.Subcommands.Add(Create("waiters", "List the pending WAITs, oldest first: who waits for which keys, since when.", withWorld: false, Waiters));
    }

    private static Command Create(string name, string description, bool withWorld, Action<InspectionSnapshot, StringBuilder> print)
    {
        var admin = new Option<string>("--admin") { Description = "The server's admin URL (serve --admin-port).", DefaultValueFactory = _ => DefaultAdmin };
        var json = new Option<bool>("--json") { Description = "Print the endpoint's JSON instead of a table." };
        var world = new Option<int?>("--world-size") { Description = "The job's world size, so ranks after the highest one seen can be named missing." };
        var command = new Command(name, description) { admin, json };
        if (withWorld)
        {
            command.Options.Add(world);
        }

        command.SetAction(async (parse, token) =>
        {
            var baseUrl = parse.GetValue(admin)!.TrimEnd('/');
            var worldSize = withWorld ? parse.GetValue(world) : null;
            var endpoint = name switch { "status" => "status", "clients" => "clients", _ => "waiters" };
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            try
            {
                var query = worldSize is int w ? "?world=" + w.ToString(CultureInfo.InvariantCulture) : string.Empty;
                if (parse.GetValue(json))
                {
                    var text = await http.GetStringAsync(new Uri($"{baseUrl}/api/{endpoint}{query}"), token).ConfigureAwait(false);
                    await stdout.WriteLineAsync(text.TrimEnd()).ConfigureAwait(false);
                    return ExitCodes.Ok;
                }

                var snapshot = await http.GetFromJsonAsync<InspectionSnapshot>(new Uri($"{baseUrl}/api/inspect{query}"), AdminServer.Json, token).ConfigureAwait(false)
                    ?? throw new JsonException("empty answer");
                var output = new StringBuilder();
                print(snapshot, output);
                await stdout.WriteAsync(output.ToString()).ConfigureAwait(false);
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or UriFormatException)
            {
                await stderr.WriteLineAsync($"tcpstore {name}: cannot read {baseUrl}: {ex.Message}").ConfigureAwait(false);
                return ExitCodes.ConnectionFailed;
            }
        });
        return command;
    }

    private static void Status(InspectionSnapshot snapshot, StringBuilder output)
    {
        var s = snapshot.Server;
        output.Append(CultureInfo.InvariantCulture, $"server     {s.Endpoint}, up {Age((s.Time - s.StartedAt).TotalSeconds)}\n");
        output.Append(CultureInfo.InvariantCulture, $"connections {s.Connections} open, {s.Accepted} accepted\n");
        output.Append(CultureInfo.InvariantCulture, $"keys       {s.Keys}, {s.AwaitedKeys} awaited\n");
        output.Append(CultureInfo.InvariantCulture, $"waiting    {s.WaitingConnections} connections");
        output.Append(s.WaitingConnections > 0 ? $", oldest {Age(s.OldestWaitSeconds)}\n" : "\n");
        output.Append(CultureInfo.InvariantCulture, $"requests   {s.RequestsTotal}, {s.BytesIn} B in, {s.BytesOut} B out\n");
        output.Append('\n');
        if (s.Groups.Count == 0)
        {
            output.Append("no rendezvous recognised\n");
            return;
        }

        output.Append("rendezvous\n");
        foreach (var group in s.Groups)
        {
            output.Append(group.Complete ? "  ok    " : "  WAIT  ").Append(group.Summary).Append('\n');
        }
    }

    private static void Clients(InspectionSnapshot snapshot, StringBuilder output)
    {
        var rows = snapshot.Clients.Select(c => new[]
        {
            c.Id.ToString(CultureInfo.InvariantCulture), c.Peer, c.Rank is int r ? $"{r} of {c.Group}" : "-",
            Age(c.ConnectedSeconds), c.IdleSeconds is double idle ? Age(idle) : "-", c.Requests.ToString(CultureInfo.InvariantCulture),
            c.BytesIn.ToString(CultureInfo.InvariantCulture), c.BytesOut.ToString(CultureInfo.InvariantCulture),
            c.WaitingFor.Count > 0 ? string.Join(' ', c.WaitingFor) : "-",
        });
        Table(output, ["CONN", "PEER", "RANK", "CONNECTED", "IDLE", "REQUESTS", "BYTES IN", "BYTES OUT", "WAITING FOR"], rows);
    }

    private static void Waiters(InspectionSnapshot snapshot, StringBuilder output)
    {
        var rows = snapshot.Waiters.Select(w => new[]
        {
            w.ConnectionId.ToString(CultureInfo.InvariantCulture), w.Peer, w.Rank is int r ? $"{r} of {w.Group}" : "-",
            Age(w.WaitingSeconds), w.Since.ToString("u", CultureInfo.InvariantCulture), string.Join(' ', w.Keys),
        });
        Table(output, ["CONN", "PEER", "RANK", "WAITING", "SINCE", "KEYS"], rows);
    }

    private static void Table(StringBuilder output, string[] header, IEnumerable<string[]> rows)
    {
        var all = new List<string[]> { header };
        all.AddRange(rows);
        var widths = header.Select((_, i) => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            for (var i = 0; i < row.Length; i++)
            {
                output.Append(i == row.Length - 1 ? row[i] : row[i].PadRight(widths[i] + 2));
            }

            output.Append('\n');
        }

        if (all.Count == 1)
        {
            output.Append("(none)\n");
        }
    }

    private static string Age(double seconds) => seconds switch
    {
        < 60 => seconds.ToString(seconds < 10 ? "0.0" : "0", CultureInfo.InvariantCulture) + " s",
        < 3600 => $"{(int)(seconds / 60)} min {(int)(seconds % 60)} s",
        _ => (seconds / 3600).ToString("0.0", CultureInfo.InvariantCulture) + " h",
    };
}
