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

    /// <summary>
    /// Most operations the engine puts in one etcd transaction; must not exceed the cluster's
    /// <c>--max-txn-ops</c> (etcd's default, 128, is the default here). A MULTI_SET of more distinct keys is applied
    /// in transactions of this size, in order (another client may see the first ones before the rest); a cluster
    /// started with a larger <c>--max-txn-ops</c> and this raised to match keeps larger MULTI_SETs atomic.
    /// Reads of more keys than this are read in batches at one revision.
    /// </summary>
    public int MaxOperationsPerTransaction { get; set; } = 128;

    /// <summary>
    /// PEM file of the certificate authority that signed the members' server certificates: with it (or with
    /// <c>https://</c> endpoints) the engine talks TLS to etcd and accepts only servers whose certificate chains to
    /// this authority (without it, to the machine's trusted roots). Default <see langword="null"/>: plain HTTP.
    /// </summary>
    public string? TrustedCaFile { get; set; }

    /// <summary>
    /// PEM files of this front-end's client certificate and its private key, for clusters started with
    /// <c>--client-cert-auth</c>. Both or neither; they imply TLS.
    /// </summary>
    public string? ClientCertificateFile { get; set; }

    /// <inheritdoc cref="ClientCertificateFile"/>
    public string? ClientKeyFile { get; set; }

    /// <summary>Whether the engine talks TLS: an authority or a client certificate is set, or an endpoint is <c>https://</c>.</summary>
    public bool UsesTls => TrustedCaFile is not null || ClientCertificateFile is not null || Endpoints.Any(e => e.Scheme == Uri.UriSchemeHttps);

    /// <summary>Parses a comma-separated endpoint list (<c>http://a:2379,http://b:2379</c>, or <c>https://</c>).</summary>
    public static IReadOnlyList<Uri> ParseEndpoints(string list)
    {
        ArgumentNullException.ThrowIfNull(list);
        var result = new List<Uri>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var text = part.Contains("://", StringComparison.Ordinal) ? part : "http://" + part;
            if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Port <= 0)
            {
                throw new ArgumentException($"bad etcd endpoint '{part}' (expected http://host:port or https://host:port)");
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
