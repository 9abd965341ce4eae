using Microsoft.Extensions.Options;
using MimeKit;

namespace Qlaud.Connectors.Builtins.Email;

/// <summary>Checks <c>send_email</c>'s settings at start-up. A missing <see cref="SendEmailOptions.From"/> is not an error (the
/// tool is then not available); a malformed one is.</summary>
internal sealed class SendEmailOptionsValidator : IValidateOptions<SendEmailOptions>
{
    public ValidateOptionsResult Validate(string? name, SendEmailOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const string Section = BuiltinRegistration.SectionName + ":" + SendEmailTool.ToolName;
        var errors = new List<string>();
        if (SendEmailTool.BackendOf(options) is null)
        {
            errors.Add($"{Section}:Backend must be resend or smtp.");
        }

        if (!string.IsNullOrWhiteSpace(options.From) && SendEmailTool.Mailbox(options.From) is null)
        {
            errors.Add($"{Section}:From must be an email address, such as Acme <noreply@acme.com>.");
        }

        if (options.MaxRecipients is < 1 or > 50)
        {
            errors.Add($"{Section}:MaxRecipients must be between 1 and 50.");
        }

        if (options.Smtp.Port is < 1 or > 65535)
        {
            errors.Add($"{Section}:Smtp:Port must be between 1 and 65535.");
        }

        if (SmtpEmailSender.SocketOptions(options.Smtp) is null)
        {
            errors.Add($"{Section}:Smtp:Security must be Auto, SslOnConnect, StartTls or None.");
        }

        if (options.TimeoutSeconds is < 1 or > 600 || double.IsNaN(options.TimeoutSeconds))
        {
            errors.Add($"{Section}:TimeoutSeconds must be between 1 and 600.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
