using System.Text.Json;
using TcpStore.Server.Inspection;

namespace TcpStore.Server.Admin;

/// <summary>
/// The live page: one HTML file embedded in the assembly (no external scripts or fonts). The first
/// snapshot is embedded in the page and rendered before the load event, so even a client that runs
/// no timers (a headless browser's DOM dump) sees the groups; then the page polls /api/inspect.
/// </summary>
internal static class LivePage
{
    private static readonly string Template = LoadTemplate();
    private static readonly JsonSerializerOptions Compact = new(JsonSerializerDefaults.Web);

    public static string Render(InspectionSnapshot snapshot)
    {
        // The web encoder escapes '<', '>' and '&', so the JSON cannot close the script element.
        var json = JsonSerializer.Serialize(snapshot, Compact);
        return Template.Replace("/*INITIAL*/null", json, StringComparison.Ordinal);
    }

    private static string LoadTemplate()
    {
        using var stream = typeof(LivePage).Assembly.GetManifestResourceStream("TcpStore.Server.Admin.index.html")
            ?? throw new InvalidOperationException("the live page is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
