using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace TcpStore.Server.Hosting;

/// <summary>
/// Checks the settings when the host starts: each property against its range (one message per property, naming it
/// and the value), then what <see cref="TcpStoreServerOptions.Validate"/> refuses beyond single ranges.
/// </summary>
internal sealed class TcpStoreServiceOptionsValidator : IValidateOptions<TcpStoreServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, TcpStoreServiceOptions options)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            return ValidateOptionsResult.Fail(results.Select(r => Describe(r, options)));
        }

        try
        {
            options.ToServerOptions(address: null).Validate();
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }

    private static string Describe(ValidationResult result, TcpStoreServiceOptions options)
    {
        var member = result.MemberNames.FirstOrDefault();
        var value = member is null ? null : typeof(TcpStoreServiceOptions).GetProperty(member)?.GetValue(options);
        return value is null ? result.ErrorMessage ?? "invalid setting" : $"{result.ErrorMessage} (got {Convert.ToString(value, CultureInfo.InvariantCulture)})";
    }
}
