using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using TcpStore.Etcd;
using TcpStore.Server;
using TcpStore.Tests.Support;

namespace TcpStore.Tests.Etcd;

/// <summary>
/// The engine over TLS to a real etcd member that requires client certificates (<c>--client-cert-auth</c>), with
/// certificates from a private authority made for the test: it serves with the right authority and certificate, and
/// refuses to run without its certificate or against a member whose certificate another authority signed.
/// </summary>
public sealed class EtcdTlsTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tcpstore-etcd-tls-" + Guid.NewGuid().ToString("N"));
    private readonly StringBuilder _log = new();
    private Process? _etcd;
    private Uri _endpoint = null!;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        using var ca = Authority("tcpstore-test-ca");
        using var otherCa = Authority("tcpstore-other-ca");
        File.WriteAllText(Path.Combine(_dir, "ca.crt"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, "other-ca.crt"), otherCa.ExportCertificatePem());
        Issue(ca, "server");
        Issue(ca, "client");

        var ports = Enumerable.Range(0, 2).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        ports.ForEach(l => l.Start());
        var client = ((IPEndPoint)ports[0].LocalEndpoint).Port;
        var peer = ((IPEndPoint)ports[1].LocalEndpoint).Port;
        ports.ForEach(l => l.Stop());
        _endpoint = new Uri($"https://127.0.0.1:{client}");

        var info = new ProcessStartInfo(EtcdTestCluster.Binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "--name", "tls0", "--data-dir", Path.Combine(_dir, "data"),
            "--listen-client-urls", $"https://127.0.0.1:{client}", "--advertise-client-urls", $"https://127.0.0.1:{client}",
            "--listen-peer-urls", $"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", $"http://127.0.0.1:{peer}",
            "--initial-cluster", $"tls0=http://127.0.0.1:{peer}",
            "--cert-file", Path.Combine(_dir, "server.crt"), "--key-file", Path.Combine(_dir, "server.key"),
            "--client-cert-auth", "--trusted-ca-file", Path.Combine(_dir, "ca.crt"),
            "--log-level", "error", "--logger", "zap",
        })
        {
            info.ArgumentList.Add(arg);
        }

        _etcd = Process.Start(info) ?? throw new InvalidOperationException("cannot start etcd");
        _etcd.OutputDataReceived += (_, _) => { };
        _etcd.ErrorDataReceived += (_, e) => _log.AppendLine(e.Data);
        _etcd.BeginOutputReadLine();
        _etcd.BeginErrorReadLine();
    }

    [Fact]
    public async Task A_front_end_serves_over_tls_with_its_client_certificate()
    {
        await using var engine = await ConnectAsync(Options(ca: "ca.crt", withCertificate: true, TimeSpan.FromSeconds(30)));
        await using var server = new TcpStoreServer(new TcpStoreServerOptions { Host = IPAddress.Loopback, Port = 0, Engine = engine });
        await server.StartAsync();
        using var client = await RawClient.ConnectAsync(server.Port);
        await client.SendAsync([.. RawClient.Set("k", "over tls"), .. RawClient.Get("k")]);
        Assert.Equal("over tls", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
    }

    [Fact]
    public async Task Tcpstore_serve_takes_the_tls_files_as_flags()
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "tcpstore")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
        {
            "serve", "--host", "127.0.0.1", "--port", "0", "--engine", "etcd", "--etcd-endpoints", _endpoint.ToString().TrimEnd('/'),
            "--etcd-prefix", EtcdFrontEnd.NewPrefix(), "--etcd-cacert", Path.Combine(_dir, "ca.crt"),
            "--etcd-cert", Path.Combine(_dir, "client.crt"), "--etcd-key", Path.Combine(_dir, "client.key"),
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var serve = Process.Start(info) ?? throw new InvalidOperationException("tcpstore did not start");
        var logs = serve.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        try
        {
            var line = await serve.StandardOutput.ReadLineAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            var match = System.Text.RegularExpressions.Regex.Match(line ?? string.Empty, @"^listening on 127\.0\.0\.1:(\d+)$");
            Assert.True(match.Success, $"first stdout line: '{line}'");
            using var client = await RawClient.ConnectAsync(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            await client.SendAsync([.. RawClient.Set("k", "v"), .. RawClient.Get("k")]);
            Assert.Equal("v", Encoding.UTF8.GetString(await client.ReadBlobAsync()));
        }
        finally
        {
            serve.Kill();
            await serve.WaitForExitAsync(CancellationToken.None);
            await logs;
        }
    }

    [Theory]
    [InlineData("ca.crt", false)]
    [InlineData("other-ca.crt", true)]
    public async Task Without_its_certificate_or_against_a_member_another_authority_signed_it_does_not_start(string ca, bool withCertificate)
    {
        // The member is up (the first connect succeeds) before the refusal is checked.
        await using (await ConnectAsync(Options("ca.crt", withCertificate: true, TimeSpan.FromSeconds(30))))
        {
        }

        await Assert.ThrowsAsync<EtcdUnavailableException>(async () => await EtcdEngine.ConnectAsync(Options(ca, withCertificate, TimeSpan.FromSeconds(2))));
    }

    public ValueTask DisposeAsync()
    {
        if (_etcd is { } etcd)
        {
            etcd.Kill(entireProcessTree: true);
            etcd.WaitForExit(5000);
            etcd.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
        return ValueTask.CompletedTask;
    }

    // Connects, naming what etcd logged when it fails (a member that did not start says why there).
    private async Task<EtcdEngine> ConnectAsync(EtcdEngineOptions options)
    {
        try
        {
            return await EtcdEngine.ConnectAsync(options);
        }
        catch (EtcdUnavailableException ex)
        {
            throw new InvalidOperationException($"{ex.Message}; etcd exited: {_etcd?.HasExited}; etcd log: {_log}", ex);
        }
    }

    private EtcdEngineOptions Options(string ca, bool withCertificate, TimeSpan requestTimeout)
    {
        var options = new EtcdEngineOptions
        {
            Prefix = EtcdFrontEnd.NewPrefix(),
            RequestTimeout = requestTimeout,
            TrustedCaFile = Path.Combine(_dir, ca),
            ClientCertificateFile = withCertificate ? Path.Combine(_dir, "client.crt") : null,
            ClientKeyFile = withCertificate ? Path.Combine(_dir, "client.key") : null,
        };
        options.Endpoints.Add(_endpoint);
        return options;
    }

    private static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
    }

    // A certificate for 127.0.0.1 usable by a server and a client, signed by the authority, written as name.crt/name.key.
    private void Issue(X509Certificate2 authority, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=tcpstore-test-{name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var certificate = request.Create(authority, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(8));
        File.WriteAllText(Path.Combine(_dir, name + ".crt"), certificate.ExportCertificatePem());
        File.WriteAllText(Path.Combine(_dir, name + ".key"), key.ExportPkcs8PrivateKeyPem());
    }
}
