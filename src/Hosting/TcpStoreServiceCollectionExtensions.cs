using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TcpStore.Server.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the TcpStore server as a hosted service.</summary>
public static class TcpStoreServiceCollectionExtensions
{
    /// <summary>
    /// Runs a TcpStore server for the host's lifetime, with <see cref="TcpStoreServiceOptions"/> bound from
    /// <paramref name="configuration"/> (for example <c>configuration.GetSection("TcpStore")</c>) and validated when
    /// the host starts. The running server is <see cref="TcpStoreHostedService.Server"/>; resolve
    /// <see cref="TcpStoreHostedService"/> to reach it.
    /// </summary>
    public static IServiceCollection AddTcpStoreServer(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, services.AddOptions<TcpStoreServiceOptions>().Bind(configuration));
    }

    /// <summary>Runs a TcpStore server for the host's lifetime, with options set in code and validated at start.</summary>
    public static IServiceCollection AddTcpStoreServer(this IServiceCollection services, Action<TcpStoreServiceOptions> configure)
    {
        return Register(services, services.AddOptions<TcpStoreServiceOptions>().Configure(configure));
    }

    private static IServiceCollection Register(IServiceCollection services, OptionsBuilder<TcpStoreServiceOptions> options)
    {
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TcpStoreServiceOptions>, TcpStoreServiceOptionsValidator>());
        services.TryAddSingleton<TcpStoreHostedService>();
        services.AddHostedService(static provider => provider.GetRequiredService<TcpStoreHostedService>());
        return services;
    }
}
