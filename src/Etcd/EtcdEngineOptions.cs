namespace TcpStore.Etcd;

/// <summary>Where the etcd engine keeps the store and how patiently it talks to the cluster.</summary>
public sealed class EtcdEngineOptions
{
    /// <summary>The cluster's client URLs (<c>http://host:2379</c>); requests are balanced over all of them.</summary>
    public IList<Uri> Endpoints { get; } = [];

    /// <summary>
    /// Every key of this store lives under this etcd key prefix, so several jobs can share one cluster
    /// (default <c>/tcpstore/</c>). Front-ends serving the same job must use the same prefix.
    /// </summary>
    public string Prefix { get; set; } = "/tcpstore/";

    /// <summary>
    /// How long one request may keep retrying while the cluster is unreachable (for example during a
    /// leader election after a member died) before its connection is closed rather than answered wrongly.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Deadline of a single etcd call; a call past it is retried on another endpoint.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Parses a comma-separated endpoint list (<c>http://a:2379,http://b:2379</c>).</summary>
    public static IReadOnlyList<Uri> ParseEndpoints(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var result = new List<Uri>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var text = part.Contains("://", StringComparison.Ordinal) ? part : "http://" + part;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.Port <= 0)
            {
                throw new ArgumentException($"bad etcd endpoint '{part}' (expected http://host:port)");
            }

            result.Add(uri);
        }

        if (result.Count == 0)
        {
            throw new ArgumentException("no etcd endpoint given");
        }

        return result;
    }
}
