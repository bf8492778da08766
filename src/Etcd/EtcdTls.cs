using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace TcpStore.Etcd;

/// <summary>TLS to the etcd members: the authority their certificates must chain to, and our client certificate.</summary>
internal static class EtcdTls
{
    /// <exception cref="ArgumentException">Only one of the client certificate and key is given.</exception>
    /// <exception cref="System.Security.Cryptography.CryptographicException">A file is not a readable PEM certificate or key.</exception>
    public static SslClientAuthenticationOptions ClientOptions(EtcdEngineOptions options)
    {
        if ((options.ClientCertificateFile is null) != (options.ClientKeyFile is null))
        {
            throw new ArgumentException("an etcd client certificate needs its key, and a key its certificate");
        }

        var ssl = new SslClientAuthenticationOptions();
        if (options.ClientCertificateFile is { } certificateFile)
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificateFile, options.ClientKeyFile);
            // Linux keeps the key of a PEM-loaded certificate ephemeral; TLS needs it exportable as PKCS#12 once.
            ssl.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }

        if (options.TrustedCaFile is { } caFile)
        {
            var authority = X509CertificateLoader.LoadCertificateFromFile(caFile);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                certificate is not null && ChainsTo(certificate, authority, errors);
        }

        return ssl;
    }

    // The members' certificates chain to the given authority alone (a private CA, as etcd deployments use), and
    // name the host they were reached as.
    private static bool ChainsTo(X509Certificate certificate, X509Certificate2 authority, SslPolicyErrors errors)
    {
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0 || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
